//! The few distributions the generator needs, on top of `rand`'s uniform
//! source (kept here so the stream is stable for a given seed).

use rand::Rng;

/// A standard normal draw (Box–Muller, one of the pair).
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // u1 in (0, 1] so that ln(u1) is finite.
    let u1 = 1.0 - rng.r#gen::<f64>();
    let u2 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson draw with mean `lambda` (0 for non-positive or non-finite
/// means). Exact (Knuth) below 30, a rounded normal approximation above.
pub fn poisson<R: Rng + ?Sized>(rng: &mut R, lambda: f64) -> u64 {
    if !(lambda.is_finite() && lambda > 0.0) {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0u64;
        let mut p = rng.r#gen::<f64>();
        while p > limit {
            k += 1;
            p *= rng.r#gen::<f64>();
        }
        k
    } else {
        let x = lambda + lambda.sqrt() * standard_normal(rng);
        x.round().max(0.0) as u64
    }
}

/// Lognormal sizes: `exp(ln(median) + sigma * N(0,1))`, clamped to
/// `[min, max]` and rounded to whole bytes.
#[derive(Clone, Copy, Debug)]
pub struct LogNormal {
    mu: f64,
    sigma: f64,
    min: u64,
    max: u64,
}

impl LogNormal {
    /// `median > 0`, `sigma >= 0`, `min <= max` (validated by the profile).
    pub fn new(median: f64, sigma: f64, min: u64, max: u64) -> Self {
        LogNormal {
            mu: median.max(f64::MIN_POSITIVE).ln(),
            sigma: sigma.max(0.0),
            min,
            max: max.max(min),
        }
    }

    /// One size in bytes.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        let x = (self.mu + self.sigma * standard_normal(rng)).exp();
        // `as` saturates for huge values and maps NaN to 0; clamp after.
        (x.round() as u64).clamp(self.min, self.max)
    }
}

/// Zipf ranks in `1..=n` with `P(k) ∝ k^-s`, sampled in O(1) by
/// rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion
/// to generate variates from monotone discrete distributions", 1996).
#[derive(Clone, Copy, Debug)]
pub struct Zipf {
    n: f64,
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    threshold: f64,
}

impl Zipf {
    /// `n >= 1` ranks, exponent `s > 0`.
    pub fn new(n: u64, s: f64) -> Self {
        let n = n.max(1) as f64;
        let s = if s.is_finite() && s > 0.0 { s } else { 1.0 };
        let h_integral_x1 = h_integral(1.5, s) - 1.0;
        let h_integral_n = h_integral(n + 0.5, s);
        let threshold = 2.0 - h_integral_inverse(h_integral(2.5, s) - h(2.0, s), s);
        Zipf {
            n,
            s,
            h_integral_x1,
            h_integral_n,
            threshold,
        }
    }

    /// One rank in `1..=n`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        loop {
            let u =
                self.h_integral_n + rng.r#gen::<f64>() * (self.h_integral_x1 - self.h_integral_n);
            let x = h_integral_inverse(u, self.s);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.threshold || u >= h_integral(k + 0.5, self.s) - h(k, self.s) {
                return k as u64;
            }
        }
    }
}

fn h(x: f64, s: f64) -> f64 {
    (-s * x.ln()).exp()
}

/// The integral of `h` from 1 to `x` (up to a constant).
fn h_integral(x: f64, s: f64) -> f64 {
    let log_x = x.ln();
    helper2((1.0 - s) * log_x) * log_x
}

fn h_integral_inverse(x: f64, s: f64) -> f64 {
    let t = (x * (1.0 - s)).max(-1.0);
    (helper1(t) * x).exp()
}

/// `ln(1 + x) / x`, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(exp(x) - 1) / x`, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn harmonic(n: u64, s: f64) -> f64 {
        (1..=n).map(|k| (k as f64).powf(-s)).sum()
    }

    #[test]
    fn zipf_head_share_matches_the_distribution() {
        let mut rng = StdRng::seed_from_u64(7);
        for (n, s) in [(10_000u64, 1.0), (100_000, 0.8), (1_000, 1.3)] {
            let z = Zipf::new(n, s);
            let draws = 200_000;
            let head = n / 100; // top 1% of ranks
            let mut in_head = 0u64;
            for _ in 0..draws {
                let k = z.sample(&mut rng);
                assert!((1..=n).contains(&k));
                if k <= head {
                    in_head += 1;
                }
            }
            let want = harmonic(head, s) / harmonic(n, s);
            let got = in_head as f64 / draws as f64;
            assert!(
                (got - want).abs() < 0.01,
                "n={n} s={s}: head share {got} vs {want}"
            );
        }
    }

    #[test]
    fn zipf_rank_one_frequency() {
        let mut rng = StdRng::seed_from_u64(1);
        let z = Zipf::new(1000, 1.0);
        let draws = 100_000;
        let ones = (0..draws).filter(|_| z.sample(&mut rng) == 1).count();
        let want = 1.0 / harmonic(1000, 1.0);
        let got = ones as f64 / draws as f64;
        assert!((got - want).abs() < 0.01, "{got} vs {want}");
    }

    #[test]
    fn lognormal_median_within_tolerance() {
        let mut rng = StdRng::seed_from_u64(3);
        let d = LogNormal::new(65_536.0, 1.5, 1, u64::MAX);
        let mut v: Vec<u64> = (0..50_001).map(|_| d.sample(&mut rng)).collect();
        v.sort_unstable();
        let median = v[v.len() / 2] as f64;
        assert!((median / 65_536.0 - 1.0).abs() < 0.05, "median {median}");
        let clamped = LogNormal::new(1000.0, 3.0, 500, 2000);
        for _ in 0..1000 {
            assert!((500..=2000).contains(&clamped.sample(&mut rng)));
        }
    }

    #[test]
    fn poisson_mean_is_lambda() {
        let mut rng = StdRng::seed_from_u64(5);
        for lambda in [0.3, 4.0, 29.0, 1000.0] {
            let n = 20_000;
            let sum: u64 = (0..n).map(|_| poisson(&mut rng, lambda)).sum();
            let mean = sum as f64 / n as f64;
            assert!(
                (mean / lambda - 1.0).abs() < 0.05,
                "lambda {lambda}: mean {mean}"
            );
        }
        assert_eq!(poisson(&mut rng, 0.0), 0);
        assert_eq!(poisson(&mut rng, f64::NAN), 0);
        assert_eq!(poisson(&mut rng, -3.0), 0);
    }
}
