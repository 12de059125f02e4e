//! Small stable hashes, identical on every platform and release: FNV-1a over
//! bytes and SplitMix64's mixer. Used where a value must not depend on
//! process-random hashing (borrower splits, arms, generator seeds).

/// FNV-1a 64-bit over `bytes`.
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64: a cheap bijective mixer of 64-bit values.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // FNV-1a 64 test vectors: "" and "a".
        assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
        // SplitMix64 of 0 (first output of the reference generator seeded 0).
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }
}
