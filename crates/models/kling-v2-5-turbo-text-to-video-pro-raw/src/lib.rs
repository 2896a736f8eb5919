#![doc = include_str!("../README.md")]

include!(concat!(
    env!("OUT_DIR"),
    "/kling-v2-5-turbo-text-to-video-pro.rs"
));
