#![doc = include_str!("../README.md")]

include!(concat!(
    env!("OUT_DIR"),
    "/hailuo-2-3-image-to-video-standard.rs"
));
