//! A small, seeded, portable random number generator (xoshiro256**,
//! seeded through splitmix64), so simulations are identical on every
//! machine and every dependency version.

#[derive(Clone, Debug)]
/// A xoshiro256** generator: the same seed gives the same stream on every machine.
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// Seeds the four state words from four splitmix64 outputs of `seed`, as xoshiro's authors
    /// recommend.
    pub fn new(seed: u64) -> Self {
        let mut st = seed;
        Rng {
            s: [
                splitmix64(&mut st),
                splitmix64(&mut st),
                splitmix64(&mut st),
                splitmix64(&mut st),
            ],
        }
    }

    /// The next 64 uniformly distributed bits (the reference xoshiro256** step).
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n); n > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Log-uniform in [lo, hi].
    pub fn log_uniform(&mut self, lo: u64, hi: u64) -> u64 {
        let l = (lo.max(1) as f64).ln();
        let hl = (hi.max(lo.max(1)) as f64).ln();
        (l + (hl - l) * self.f64()).exp().round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let x = a.f64();
            assert!((0.0..1.0).contains(&x));
            b.f64();
            assert!(a.below(10) < 10);
            b.below(10);
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    /// The reference implementation (rand_xoshiro's `Xoshiro256StarStar`,
    /// whose `seed_from_u64` also fills the state from splitmix64) gives
    /// the same stream, so a run's numbers are xoshiro256**'s, not ours.
    #[test]
    fn same_stream_as_the_reference_xoshiro256starstar() {
        use rand_core::{RngCore, SeedableRng};
        for seed in [0, 1, 7, 0xd3c, u64::MAX] {
            let mut ours = Rng::new(seed);
            let mut reference = rand_xoshiro::Xoshiro256StarStar::seed_from_u64(seed);
            for _ in 0..1000 {
                assert_eq!(ours.next_u64(), reference.next_u64(), "seed {seed}");
            }
        }
    }

    /// Known answers, so a change of the generator is seen even without
    /// the reference crate: the first outputs for seed 0.
    #[test]
    fn known_answers_for_seed_zero() {
        let mut r = Rng::new(0);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(first, KNOWN_SEED_ZERO);
    }

    const KNOWN_SEED_ZERO: [u64; 3] = [
        11_091_344_671_253_066_420,
        13_793_997_310_169_335_082,
        1_900_383_378_846_508_768,
    ];
}
