#![doc = include_str!("../README.md")]

include!(concat!(env!("OUT_DIR"), "/seedance-1.5-pro.rs"));
