#![doc = include_str!("../README.md")]

include!(concat!(
    env!("OUT_DIR"),
    "/hailuo-02-image-to-video-standard.rs"
));
