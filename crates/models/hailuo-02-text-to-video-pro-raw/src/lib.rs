#![doc = include_str!("../README.md")]

include!(concat!(env!("OUT_DIR"), "/hailuo-02-text-to-video-pro.rs"));
