//! Which instruction set the kernels run on: detected at run time, forced by a caller or by the
//! `NN_ISA` environment variable, and refused with a typed error where the CPU lacks it.
//!
//! Every kernel of this crate (packed GEMM, dot products, direct convolution, the element-wise
//! layers) is one generic source over [`super::simd::Simd`], instantiated once per instruction
//! set inside a function compiled with that set's target features. [`Isa`] names the set a
//! caller asks for; a [`Token`] is the proof that this CPU has it, and only [`Isa::token`] makes
//! one, after run-time detection.

use super::simd::Portable;
#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512};

/// The environment variable that forces an instruction set for every network built afterwards
/// (`avx512`, `avx2` or `portable`; unset or empty: the best one this CPU has).
pub const ENV: &str = "NN_ISA";

/// The environment variable that caps detection, read once per process: `NN_ISA_MAX=avx2` makes
/// the AVX-512 family unavailable, `portable` both x86 families, exactly as on a CPU without
/// them (detection, [`Isa::available`], forcing, the tests' NOT RUN lines). It lets one machine
/// run the code paths of a lesser CPU class: `.ci/run` runs `nn`'s tests under both caps, so an
/// AVX-512 CI machine also checks what an AVX2-only one would run. (The `gemm` crate backend
/// detects the CPU itself and is not capped.)
pub const MAX_ENV: &str = "NN_ISA_MAX";

/// An instruction-set family of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// AVX-512F (16 lanes): 6 × 64 GEMM tiles, 6-filter × 4-vector convolution tiles.
    Avx512,
    /// AVX2 + FMA (8 lanes): 6 × 16 GEMM tiles.
    Avx2,
    /// No target features: 4 lanes of the architecture's baseline vectors (SSE2 on x86-64, NEON
    /// on aarch64, arrays LLVM maps as it can elsewhere), so it runs on any CPU.
    Portable,
}

/// Why an instruction set cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IsaError {
    // (The value in quotes, not backticks: the trainer turns backticked names into `--flags`.)
    #[error("unknown instruction set \"{0}\" (expected avx512, avx2 or portable)")]
    Unknown(String),
    #[error("this CPU ({cpu}) does not have {isa}: the kernels it would run need {needs}; available here: {available}")]
    Unavailable {
        isa: Isa,
        needs: &'static str,
        cpu: String,
        available: String,
    },
    #[error(
        "{isa} is hidden by {MAX_ENV}={max} (this CPU, {cpu}, has it); available here: {available}"
    )]
    Hidden {
        isa: Isa,
        max: Isa,
        cpu: String,
        available: String,
    },
    #[error("{var}={value}: {source}")]
    Env {
        var: &'static str,
        value: String,
        #[source]
        source: Box<IsaError>,
    },
}

impl Isa {
    /// Every family, fastest first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Portable];

    /// The lower-case name used by `NN_ISA`, flags and reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        }
    }

    /// The CPU features the family needs.
    pub fn needs(self) -> &'static str {
        match self {
            Isa::Avx512 => "x86-64 with AVX-512F",
            Isa::Avx2 => "x86-64 with AVX2 and FMA",
            Isa::Portable => "nothing",
        }
    }

    /// Whether this CPU runs the family (`is_x86_feature_detected!` caches its answer) and
    /// [`MAX_ENV`] does not hide it.
    pub fn available(self) -> bool {
        self.token().is_some()
    }

    /// The cap [`MAX_ENV`] sets, if any: families faster than it are unavailable. A value that
    /// does not name a family caps nothing here; [`Isa::from_env`] (which networks and the
    /// trainer call) refuses it with a typed error.
    pub fn cap() -> Option<Isa> {
        static CAP: std::sync::OnceLock<Option<Isa>> = std::sync::OnceLock::new();
        *CAP.get_or_init(|| std::env::var(MAX_ENV).ok()?.parse().ok())
    }

    /// Whether [`MAX_ENV`] hides this family (it is faster than the cap), whether or not the
    /// CPU has it.
    pub fn hidden(self) -> bool {
        Isa::cap().is_some_and(|max| self < max)
    }

    /// Whether the CPU itself runs the family, regardless of [`MAX_ENV`].
    pub fn detected(self) -> bool {
        self.detected_token().is_some()
    }

    /// The best family this CPU runs.
    pub fn detect() -> Isa {
        Isa::ALL
            .into_iter()
            .find(|i| i.available())
            .unwrap_or(Isa::Portable)
    }

    /// The families this CPU runs, fastest first.
    pub fn available_here() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.available()).collect()
    }

    /// The families this CPU lacks (what a test reports as not run).
    pub fn unavailable_here() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| !i.available()).collect()
    }

    /// `self` if this CPU runs it, else a typed error naming the CPU and what it has.
    pub fn check(self) -> Result<Isa, IsaError> {
        if self.available() {
            return Ok(self);
        }
        let available = Isa::available_here()
            .iter()
            .map(|i| i.name())
            .collect::<Vec<_>>()
            .join(", ");
        // Hidden only where the cap is the reason: a family the CPU lacks is unavailable.
        if let (true, true, Some(max)) = (self.hidden(), self.detected(), Isa::cap()) {
            return Err(IsaError::Hidden {
                isa: self,
                max,
                cpu: cpu_model(),
                available,
            });
        }
        Err(IsaError::Unavailable {
            isa: self,
            needs: self.needs(),
            cpu: cpu_model(),
            available,
        })
    }

    /// The family `NN_ISA` asks for (checked against this CPU), or `None` when it is unset or
    /// empty. Also refuses a [`MAX_ENV`] that names no family.
    pub fn from_env() -> Result<Option<Isa>, IsaError> {
        if let Ok(v) = std::env::var(MAX_ENV).map(|v| v.trim().to_string()) {
            if let (false, Err(e)) = (v.is_empty(), v.parse::<Isa>()) {
                return Err(IsaError::Env {
                    var: MAX_ENV,
                    value: v,
                    source: Box::new(e),
                });
            }
        }
        match std::env::var(ENV) {
            Ok(v) if !v.trim().is_empty() => v
                .parse::<Isa>()
                .and_then(Isa::check)
                .map(Some)
                .map_err(|e| IsaError::Env {
                    var: ENV,
                    value: v.clone(),
                    source: Box::new(e),
                }),
            _ => Ok(None),
        }
    }

    /// What a new network uses: `NN_ISA` when set, else the best family this CPU has.
    pub fn preferred() -> Result<Isa, IsaError> {
        Ok(Isa::from_env()?.unwrap_or_else(Isa::detect))
    }

    /// The family the direct convolutions and the max-pools run under `self` on this CPU: AVX2
    /// in place of AVX-512 where the CPU splits 512-bit instructions into 256-bit halves
    /// ([`splits_512`]), else `self`. On such a CPU a 16-lane vector costs two 8-lane ones, so
    /// AVX-512 gains only registers and masks, while its wider tiles waste more lanes on the
    /// convolutions' narrow output rows (8–28 pixels) and compute more padding of the full
    /// correlation. Chosen by measurement (AMD EPYC Zen 4, docs/nn.md): every convolution and
    /// pooling kernel was faster as AVX2 there (LeNet-5 step 2.66 vs 3.32 ms in-process), the
    /// dense layers' packed GEMM stays faster as AVX-512 (MLP step 2.95 vs 3.32 ms).
    pub fn for_convolution(self) -> Isa {
        if self == Isa::Avx512 && splits_512() && Isa::Avx2.available() {
            Isa::Avx2
        } else {
            self
        }
    }

    /// The proof that this CPU runs the family, for the kernels (none for a family
    /// [`MAX_ENV`] hides).
    pub(crate) fn token(self) -> Option<Token> {
        if self.hidden() {
            return None;
        }
        self.detected_token()
    }

    /// The token by run-time detection alone.
    fn detected_token(self) -> Option<Token> {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Avx512::new().map(Token::Avx512),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => Avx2::new().map(Token::Avx2),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512 | Isa::Avx2 => None,
            Isa::Portable => Some(Token::Portable(Portable)),
        }
    }

    /// [`Isa::token`] for an entry point whose caller promised an available family.
    ///
    /// # Panics
    /// If this CPU lacks the family (a programming error: networks check it when built).
    pub(crate) fn expect_token(self, who: &str) -> Token {
        self.token()
            .unwrap_or_else(|| panic!("{who}: the {} kernels need {}", self.name(), self.needs()))
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Isa {
    type Err = IsaError;
    fn from_str(s: &str) -> Result<Self, IsaError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "avx512" | "avx-512" | "avx512f" => Ok(Isa::Avx512),
            "avx2" => Ok(Isa::Avx2),
            "portable" | "generic" => Ok(Isa::Portable),
            _ => Err(IsaError::Unknown(s.to_string())),
        }
    }
}

/// A checked instruction set: holding one proves that this CPU runs its kernels.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Token {
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512),
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
    Portable(Portable),
}

/// Whether this CPU has AVX-512F but executes 512-bit vector instructions as two halves on
/// 256-bit units: AMD's family 19h (Zen 3, which lacks AVX-512, and Zen 4). Zen 5 (family 1Ah)
/// has full-width units on its server and desktop parts, Intel's AVX-512 parts have at least one
/// 512-bit FMA unit, so neither is included; Zen 5's mobile parts split them but are not told
/// apart here (not measured). Two `cpuid`s: call it when building, not per gradient.
pub fn splits_512() -> bool {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use std::arch::x86_64::__cpuid;
        let v = __cpuid(0);
        let amd = (v.ebx, v.edx, v.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163); // "AuthenticAMD"
        let sig = __cpuid(1).eax;
        let base = (sig >> 8) & 0xf;
        let family = if base == 0xf {
            base + ((sig >> 20) & 0xff)
        } else {
            base
        };
        amd && family == 0x19 && Isa::Avx512.available()
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        false
    }
}

/// The CPU's model name (`/proc/cpuinfo` on Linux; the architecture elsewhere).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
