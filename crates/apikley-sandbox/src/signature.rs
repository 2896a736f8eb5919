//! The service's side of callback signing and of telling an upload's type, written from the
//! documents rather than borrowed from the client, so that the sandbox checks the client's code
//! instead of echoing it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header with the Unix time a callback was signed at.
pub(crate) const TIMESTAMP: &str = "X-Webhook-Timestamp";
/// The header with the signature.
pub(crate) const SIGNATURE: &str = "X-Webhook-Signature";

/// A webhook key, as the account's `webhookHmacKey`.
#[derive(Clone)]
pub(crate) struct WebhookKey(String);

impl WebhookKey {
    /// The key; an empty one signs nothing a receiver could check, so it is refused.
    pub(crate) fn new(key: String) -> Option<Self> {
        (!key.is_empty()).then_some(WebhookKey(key))
    }

    /// As the docs define it: Base64 of HMAC-SHA256 over `taskId + "." + timestamp`.
    pub(crate) fn sign(&self, task_id: &str, timestamp: u64) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(self.0.as_bytes()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        };
        mac.update(format!("{task_id}.{timestamp}").as_bytes());
        BASE64.encode(mac.finalize().into_bytes())
    }
}

/// The MIME type of an upload by its first bytes, for the formats the models take; `None`
/// for anything else.
pub(crate) fn mime_of(bytes: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| bytes.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if at(0, b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("image/webp")
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        Some("audio/wav")
    } else if at(0, b"GIF8") {
        Some("image/gif")
    } else if at(4, b"ftypqt") {
        Some("video/quicktime")
    } else if at(4, b"ftyp") {
        Some("video/mp4")
    } else if at(0, b"ID3") {
        Some("audio/mpeg")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently with:
    /// `printf 'task_abc.1700000000' | openssl dgst -sha256 -hmac 'test-webhook-key' -binary | base64`
    const OPENSSL_SIGNATURE: &str = "GhE8DkomOIrKXhygvu4/xhHu+S13hfHc+IPkqIRjTTM=";

    #[test]
    fn signs_as_the_docs_define_and_the_client_verifies() {
        let key = WebhookKey::new("test-webhook-key".into()).expect("a key");
        assert_eq!(key.sign("task_abc", 1_700_000_000), OPENSSL_SIGNATURE);
        assert!(WebhookKey::new(String::new()).is_none());
        // The client's check, fed what the sandbox sends, agrees.
        let verifier = apikley::callback::CallbackVerifier::new("test-webhook-key").expect("a key");
        assert_eq!(verifier.sign("task_abc", 1_700_000_000), OPENSSL_SIGNATURE);
        // Header names are case-insensitive.
        assert!(TIMESTAMP.eq_ignore_ascii_case(apikley::callback::TIMESTAMP_HEADER));
        assert!(SIGNATURE.eq_ignore_ascii_case(apikley::callback::SIGNATURE_HEADER));
    }

    #[test]
    fn uploads_are_typed_by_their_first_bytes() {
        for (bytes, mime) in [
            (&b"\x89PNG\r\n\x1a\n...."[..], Some("image/png")),
            (b"\xff\xd8\xff\xe0", Some("image/jpeg")),
            (b"RIFF\0\0\0\0WEBPVP8 ", Some("image/webp")),
            (b"RIFF\0\0\0\0WAVEfmt ", Some("audio/wav")),
            (b"GIF89a", Some("image/gif")),
            (b"\0\0\0\x18ftypisom", Some("video/mp4")),
            (b"\0\0\0\x14ftypqt  ", Some("video/quicktime")),
            (b"ID3\x04", Some("audio/mpeg")),
            (b"<html>", None),
            (b"", None),
        ] {
            assert_eq!(mime_of(bytes), mime, "{bytes:?}");
        }
    }
}
