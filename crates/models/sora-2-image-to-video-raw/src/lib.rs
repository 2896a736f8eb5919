#![doc = include_str!("../README.md")]

include!(concat!(env!("OUT_DIR"), "/sora-2-image-to-video.rs"));
