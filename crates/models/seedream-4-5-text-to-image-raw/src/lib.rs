#![doc = include_str!("../README.md")]

include!(concat!(env!("OUT_DIR"), "/seedream-4.5-text-to-image.rs"));
