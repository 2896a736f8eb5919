#![doc = include_str!("../README.md")]

/// Get Task Details: the unified status query for every Market task, and the callback record.
pub mod task_detail {
    include!(concat!(env!("OUT_DIR"), "/get-task-detail.rs"));
}

/// Get Remaining Credits.
pub mod credits {
    include!(concat!(env!("OUT_DIR"), "/common-api.rs"));
}

/// File uploads (Base64 and URL). The server is `<base URL>/file-upload`.
pub mod file_upload {
    include!(concat!(env!("OUT_DIR"), "/file-upload-api.rs"));
}
