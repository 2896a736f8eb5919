#![doc = include_str!("../README.md")]

include!(concat!(
    env!("OUT_DIR"),
    "/bytedance-v1-pro-image-to-video.rs"
));
