//! Key bytes stored inside the entry when they are short.
//!
//! Most keys are short (`user:1234`, `session:ab12cd`). Keeping up to
//! [`INLINE_CAP`] bytes inside the entry saves the separate allocation a
//! boxed slice needs, and the cache miss of following it on every probe.

/// Longest key kept inline: the enum stays 24 bytes, the size of a boxed
/// slice plus its discriminant.
pub const INLINE_CAP: usize = 22;

#[derive(Clone, PartialEq, Eq)]
pub enum KeyBytes {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl KeyBytes {
    pub fn new(key: &[u8]) -> KeyBytes {
        if key.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..key.len()].copy_from_slice(key);
            KeyBytes::Inline {
                len: key.len() as u8,
                buf,
            }
        } else {
            KeyBytes::Heap(key.into())
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            KeyBytes::Inline { len, buf } => &buf[..*len as usize],
            KeyBytes::Heap(b) => b,
        }
    }

    pub fn into_vec(self) -> Vec<u8> {
        match self {
            KeyBytes::Inline { .. } => self.as_bytes().to_vec(),
            KeyBytes::Heap(b) => b.into_vec(),
        }
    }
}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_keys_round_trip() {
        assert_eq!(std::mem::size_of::<KeyBytes>(), 24);
        for len in [0, 1, INLINE_CAP, INLINE_CAP + 1, 300] {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let k = KeyBytes::new(&key);
            assert_eq!(k.as_bytes(), &key[..]);
            assert_eq!(matches!(k, KeyBytes::Inline { .. }), len <= INLINE_CAP);
            assert_eq!(k.into_vec(), key);
        }
    }
}
