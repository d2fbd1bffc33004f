//! A real image layer without extra crates: a one-file ustar archive, gzip-wrapped with a
//! stored (uncompressed) deflate block.
//!
//! Fixture layers must be what a runtime could unpack (a `tar+gzip` blob whose uncompressed
//! digest is the config's `diff_id`, <https://github.com/opencontainers/image-spec/blob/main/config.md>),
//! even though the probe never downloads them: `skopeo copy` and real nodes do.

use sha2::{Digest, Sha256};

/// A gzipped tar holding `name` with `content`, and the `sha256:` digest of the plain tar
/// (the layer's `diff_id`).
pub fn tar_gz(name: &str, content: &[u8]) -> (Vec<u8>, String) {
    let tar = tar(name, content);
    let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&tar)));
    (gzip_stored(&tar), diff_id)
}

/// One regular file in POSIX ustar format, then the two zero blocks that end an archive.
fn tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let mut put =
        |offset: usize, bytes: &[u8]| header[offset..offset + bytes.len()].copy_from_slice(bytes);
    put(0, name.as_bytes());
    put(100, b"0000644\0");
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{:011o}\0", content.len()).as_bytes());
    put(136, b"07033241600\0"); // 2000-01-01T00:00:00Z: fixed, so digests are stable
    put(148, b"        ");
    put(156, b"0");
    put(257, b"ustar\0");
    put(263, b"00");
    let checksum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());

    let mut archive = header.to_vec();
    archive.extend_from_slice(content);
    archive.resize(archive.len().div_ceil(512) * 512, 0);
    archive.extend_from_slice(&[0u8; 1024]);
    archive
}

/// RFC 1952 gzip around RFC 1951 stored blocks.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let chunks: Vec<&[u8]> = data.chunks(0xffff).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE, reflected), as gzip's trailer needs.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
