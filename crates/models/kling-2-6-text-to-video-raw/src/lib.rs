#![doc = include_str!("../README.md")]

include!(concat!(env!("OUT_DIR"), "/kling-2.6-text-to-video.rs"));
