#![doc = include_str!("../README.md")]

include!(concat!(
    env!("OUT_DIR"),
    "/kling-v2-1-master-image-to-video.rs"
));
