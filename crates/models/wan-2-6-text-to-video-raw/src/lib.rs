#![doc = include_str!("../README.md")]

include!(concat!(env!("OUT_DIR"), "/wan-2-6-text-to-video.rs"));
