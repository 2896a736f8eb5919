//! The runtime against servers on 127.0.0.1 (httpmock, and a scripted server where a
//! connection must drop), on tokio's paused clock wherever time matters.

mod callbacks;
mod downloads;
mod errors;
mod history;
mod odd_answers;
mod retries;
mod support;
mod uploads;
mod waiting;
