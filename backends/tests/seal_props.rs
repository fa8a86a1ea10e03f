//! Property tests of the sealed format's parser and opener on hostile input: random bytes, truncated and
//! bit-flipped valid sealed objects. Never a panic, always an error, never wrong plaintext.

use std::ops::Range;

use backends::seal::{HEADER_LEN, INDEX_LEN, Sealer, token_len};
use backends::{
    Backend, BackendError, FrameKey, TierProfile, open_frame, parse_header, sealed_len,
};
use bytes::Bytes;

use futures::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};
use proptest::prelude::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Seals `data` with `frame`-byte frames on an in-memory backend; returns the backend and the stored bytes.
async fn sealed(data: &[u8], frame: u32) -> (Backend, Bytes) {
    let b = Backend::memory("m", TierProfile::s3_standard()).with_frame_size(frame);
    let mut w = b.writer("blob").await.expect("writer");
    w.write(Bytes::copy_from_slice(data)).await.expect("write");
    w.finish().await.expect("finish");
    let raw = b.read_raw("blob").await.expect("raw");
    assert_eq!(raw.len() as u64, sealed_len(data.len() as u64, frame));
    (b, raw)
}

/// Replaces the stored bytes of `blob`.
async fn overwrite(b: &Backend, bytes: Vec<u8>) {
    b.store()
        .put(&StorePath::from("blob"), PutPayload::from(bytes))
        .await
        .expect("put");
}

/// Reads `range` of the blob (declared `plain_size` bytes), checking every byte yielded against `want` (the true
/// plaintext of the range): Ok only if the whole range came out, and a wrong byte fails the test at once.
async fn read_checked(
    b: &Backend,
    plain_size: u64,
    range: Range<u64>,
    want: &[u8],
) -> Result<(), BackendError> {
    let mut stream = b.read("blob", plain_size, range).await?;
    let mut at = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        assert!(
            at + chunk.len() <= want.len(),
            "read yielded more bytes than the range"
        );
        assert_eq!(
            &chunk[..],
            &want[at..at + chunk.len()],
            "WRONG PLAINTEXT at {at}"
        );
        at += chunk.len();
    }
    assert_eq!(at, want.len(), "a read that ends without error is complete");
    Ok(())
}

/// The whole read of the blob declared as `plain_size` bytes, or its first error.
async fn read_all(b: &Backend, plain_size: u64) -> Result<Vec<u8>, BackendError> {
    let mut stream = b.read("blob", plain_size, 0..plain_size).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

fn data_and_frame() -> impl Strategy<Value = (Vec<u8>, u32)> {
    (prop::collection::vec(any::<u8>(), 1..3000), 16u32..700)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any 0..64 bytes: parse_header never panics, and accepts only the documented layout.
    #[test]
    fn header_parser_accepts_only_valid_headers(
        mut bytes in prop::collection::vec(any::<u8>(), 0..64),
        plausible in any::<bool>(),
        small_frame in any::<bool>(),
    ) {
        // Half the inputs start like a real header, so both answers are exercised.
        if plausible && bytes.len() >= 12 {
            bytes[..8].copy_from_slice(b"STRS\x01\x00\x00\x00");
            if small_frame {
                bytes[10] &= 0x3f;
                bytes[11] = 0;
            }
        }
        let le = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let valid = bytes.len() >= HEADER_LEN as usize
            && &bytes[0..4] == b"STRS"
            && bytes[4] == 1
            && bytes[5..8] == [0, 0, 0]
            && (1..=64 << 20).contains(&le(8));
        let parsed = parse_header(&bytes);
        prop_assert_eq!(parsed.is_ok(), valid);
        if let Ok(h) = parsed {
            prop_assert_eq!(h.frame_size, le(8));
            prop_assert_eq!(h.key_id, le(12));
        }
    }

    /// Random bytes never open as a frame, whatever their length (including exact token lengths).
    #[test]
    fn random_tokens_never_open(len in 0usize..400, seed in any::<u64>(), index in any::<u64>()) {
        let f = FrameKey::from_fernet_key(&FrameKey::generate()).expect("key");
        let mut x = seed | 1;
        let token: Vec<u8> = (0..len).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x as u8 }).collect();
        prop_assert!(open_frame(&f, index, &token).is_err());
        // Also with a valid version byte in front.
        let mut t = token.clone();
        if !t.is_empty() { t[0] = 0x80; }
        prop_assert!(open_frame(&f, index, &t).is_err());
    }

    /// A valid frame with any one bit flipped, or cut short, or read at another index, fails to open.
    #[test]
    fn damaged_frames_never_open(data in prop::collection::vec(any::<u8>(), 1..200), bit in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let f = FrameKey::from_fernet_key(&FrameKey::generate()).expect("key");
        let mut s = Sealer::new(f.clone(), 1, 256);
        let mut frames = s.push(&data);
        frames.extend(s.finish());
        let token = frames[0].to_vec();
        prop_assert_eq!(token.len(), token_len(INDEX_LEN + data.len()));
        prop_assert_eq!(&open_frame(&f, 0, &token).expect("opens")[..], &data[..]);
        let mut flipped = token.clone();
        let i = bit.index(token.len() * 8);
        flipped[i / 8] ^= 1 << (i % 8);
        prop_assert!(open_frame(&f, 0, &flipped).is_err());
        let short = &token[..cut.index(token.len())];
        prop_assert!(open_frame(&f, 0, short).is_err());
        prop_assert!(open_frame(&f, 1, &token).is_err());
    }

    /// A sealed object with one bit flipped anywhere: no read (whole or ranged) ever yields a byte that is not
    /// the original plaintext, and a whole read fails unless the flip left the content exactly recoverable.
    #[test]
    fn bit_flipped_objects_are_errors_never_wrong_plaintext(
        (data, frame) in data_and_frame(),
        bit in any::<prop::sample::Index>(),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        rt().block_on(async {
            let (backend, raw) = sealed(&data, frame).await;
            let mut bad = raw.to_vec();
            let i = bit.index(bad.len() * 8);
            bad[i / 8] ^= 1 << (i % 8);
            overwrite(&backend, bad).await;
            let n = data.len() as u64;
            if read_checked(&backend, n, 0..n, &data).await.is_ok() {
                // The whole plaintext came out right (read_checked compared every byte). The only bits that can
                // be flipped unnoticed are in the header's frame size (bytes 8..12, not authenticated), and only
                // when the new size leaves the frame layout unchanged (one frame): the frames themselves bind
                // their index and length, so the content is still exactly the original.
                prop_assert!((64..96).contains(&i), "bit {} flipped unnoticed", i);
                prop_assert!(n <= u64::from(frame), "a multi-frame object read with a changed frame size");
            }
            let (x, y) = (a.index(data.len()) as u64, b.index(data.len()) as u64 + 1);
            let r = x.min(y)..x.max(y).max(x.min(y) + 1);
            // A range may miss the damaged frame and succeed; it must never yield wrong bytes.
            let _ = read_checked(&backend, n, r.clone(), &data[r.start as usize..r.end as usize]).await;
            Ok(())
        })?;
    }

    /// A sealed object cut to any shorter length (or extended) is an error for whole reads and never yields wrong
    /// bytes for ranged ones.
    #[test]
    fn truncated_or_extended_objects_are_errors(
        (data, frame) in data_and_frame(),
        cut in any::<prop::sample::Index>(),
        extra in prop::collection::vec(any::<u8>(), 1..40),
        a in any::<prop::sample::Index>(),
    ) {
        rt().block_on(async {
            let (backend, raw) = sealed(&data, frame).await;
            let n = data.len() as u64;
            let short = raw[..cut.index(raw.len())].to_vec();
            overwrite(&backend, short).await;
            prop_assert!(read_checked(&backend, n, 0..n, &data).await.is_err());
            let x = a.index(data.len());
            let _ = read_checked(&backend, n, x as u64..n, &data[x..]).await;
            let mut long = raw.to_vec();
            long.extend_from_slice(&extra);
            overwrite(&backend, long).await;
            prop_assert!(read_checked(&backend, n, 0..n, &data).await.is_err());
            Ok(())
        })?;
    }

    /// Random bytes stored as a blob (with or without a valid header in front, at the exact sealed length or not)
    /// never read as plaintext.
    #[test]
    fn random_blobs_never_read(
        (data, frame) in data_and_frame(),
        seed in any::<u64>(),
        keep_header in any::<bool>(),
        exact_len in any::<bool>(),
    ) {
        rt().block_on(async {
            let (backend, raw) = sealed(&data, frame).await;
            let n = data.len() as u64;
            let len = if exact_len { raw.len() } else { (seed % 4000) as usize };
            let mut x = seed | 1;
            let mut junk: Vec<u8> = (0..len).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x as u8 }).collect();
            if keep_header && junk.len() >= HEADER_LEN as usize {
                junk[..HEADER_LEN as usize].copy_from_slice(&raw[..HEADER_LEN as usize]);
            }
            overwrite(&backend, junk).await;
            prop_assert!(read_checked(&backend, n, 0..n, &data).await.is_err());
            Ok(())
        })?;
    }

    /// The declared plaintext size is validated against the stored size: a wrong size is an error, not a short or
    /// padded read.
    #[test]
    fn wrong_declared_sizes_are_errors((data, frame) in data_and_frame(), delta in 1u64..5000) {
        rt().block_on(async {
            let (backend, _) = sealed(&data, frame).await;
            let n = data.len() as u64;
            prop_assert!(read_checked(&backend, n, 0..n, &data).await.is_ok());
            let bigger = n + delta;
            prop_assert!(read_all(&backend, bigger).await.is_err(), "size {} accepted for a {}-byte object", bigger, n);
            if delta < n {
                let smaller = n - delta;
                prop_assert!(read_all(&backend, smaller).await.is_err(), "size {} accepted for a {}-byte object", smaller, n);
            }
            Ok(())
        })?;
    }
}
