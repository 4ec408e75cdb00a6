//! The enumerations of a run description and how each is written: one lower-case word
//! (`snake_case` in JSON; the command line also accepts `-` for `_`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The parallel SGD algorithm (Table 1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Sequential SGD, one thread.
    Seq,
    /// Synchronous data-parallel SGD: m gradients on the same θ, averaged, one step (effective
    /// batch m·b, Thm A.3.1).
    Sync,
    /// Lock-based AsyncSGD (Alg. B.2).
    Async,
    /// HOGWILD!.
    Hogwild,
    /// Leashed-SGD (Alg. B.3).
    Leashed,
}

impl Algorithm {
    /// Every algorithm, in the order of Table 1.3.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Seq,
        Algorithm::Sync,
        Algorithm::Async,
        Algorithm::Hogwild,
        Algorithm::Leashed,
    ];
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                format!("unknown algorithm `{s}` (expected seq, sync, async, hogwild or leashed)")
            })
    }
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Seq => "seq",
            Algorithm::Sync => "sync",
            Algorithm::Async => "async",
            Algorithm::Hogwild => "hogwild",
            Algorithm::Leashed => "leashed",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The step-size policy as chosen on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Constant,
    /// 1/τ.
    Inverse,
    /// FLeet's exponential dampening, β from τ_th = m + 1.
    Fleet,
    /// TAIL-τ, exactly mean-preserving discrete form.
    Tail,
    /// TAIL-τ with F(τ) = P[τ' ≤ τ], as Def. C.4.5 prints it.
    TailThesis,
    /// TAIL-τ as the thesis' C++ code computes it (strict CDF, sampled once).
    TailCode,
    /// MindTheStep, geometric model (A.9, C from A.11 for `--mts-momentum`), p fitted live.
    MtsGeom,
    /// MindTheStep, CMP model (A.14), (λ, ν) fitted live.
    MtsCmp,
    /// MindTheStep momentum-tuned for a Poisson model (A.18 as printed), λ = m, K = `--mts-k`;
    /// §A.6 also uses `--mean-preserving --eta-cap 5 --drop-above 150`.
    MtsPoisson,
}

impl PolicyKind {
    /// Every policy, with the word that names it (`--policy WORD`; `-` is read as `_`).
    pub const ALL: [(PolicyKind, &'static str); 9] = [
        (PolicyKind::Constant, "constant"),
        (PolicyKind::Inverse, "inverse"),
        (PolicyKind::Fleet, "fleet"),
        (PolicyKind::Tail, "tail"),
        (PolicyKind::TailThesis, "tail_thesis"),
        (PolicyKind::TailCode, "tail_code"),
        (PolicyKind::MtsGeom, "mts_geom"),
        (PolicyKind::MtsCmp, "mts_cmp"),
        (PolicyKind::MtsPoisson, "mts_poisson"),
    ];

    pub fn name(self) -> &'static str {
        PolicyKind::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, n)| *n)
            .expect("every policy is listed")
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let want = s.replace('-', "_");
        PolicyKind::ALL
            .iter()
            .find(|(_, n)| *n == want)
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = PolicyKind::ALL.iter().map(|(_, n)| *n).collect();
                format!(
                    "unknown policy `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// How ε-convergence is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpsBy {
    /// The loss on the fixed evaluation subset of the training set, at each evaluation.
    Eval,
    /// The trailing mean of 10 consecutive mini-batch losses against the initial loss on the
    /// whole training set: how the thesis' code measures it.
    Minibatch,
}

impl EpsBy {
    pub fn name(self) -> &'static str {
        match self {
            EpsBy::Eval => "eval",
            EpsBy::Minibatch => "minibatch",
        }
    }
}

impl std::str::FromStr for EpsBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "eval" => Ok(EpsBy::Eval),
            "minibatch" => Ok(EpsBy::Minibatch),
            _ => Err(format!(
                "unknown ε basis `{s}` (expected eval or minibatch)"
            )),
        }
    }
}

/// Who runs the workers (the executor seam, `trainer::run`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// One OS thread per worker, in real time.
    #[default]
    Threads,
    /// Virtual workers in virtual time on this thread: thesis-scale m on any machine.
    Simulated,
    /// A parameter server and worker processes over MPI (`mpirun`; the `mpi` feature).
    Mpi,
}

impl ExecutorKind {
    pub const ALL: [(ExecutorKind, &'static str); 3] = [
        (ExecutorKind::Threads, "threads"),
        (ExecutorKind::Simulated, "simulated"),
        (ExecutorKind::Mpi, "mpi"),
    ];

    pub fn name(self) -> &'static str {
        ExecutorKind::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .expect("every executor is listed")
    }
}

impl std::str::FromStr for ExecutorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = if s == "sim" { "simulated" } else { s };
        ExecutorKind::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(k, _)| *k)
            .ok_or_else(|| format!("unknown executor `{s}` (expected threads, simulated or mpi)"))
    }
}

/// How θ0 is drawn (see [`nn::Init`]); `normal` and `thesis_code` use `Config::init_std`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitKind {
    /// He/Kaiming: weights N(0, 2/fan_in), biases 0.
    He,
    /// Glorot/Xavier uniform, biases 0.
    Glorot,
    /// Every weight and bias N(0, std²) (Alg. B.1's RAND_INIT).
    Normal,
    /// N(0, std²) drawn value for value as the thesis' C++ code draws it (its Park–Miller
    /// generator seeded with `seed`, Box–Muller, the C++'s weight order; [`nn::Init::ThesisCode`]).
    ThesisCode,
}

impl InitKind {
    pub const ALL: [(InitKind, &'static str); 4] = [
        (InitKind::He, "he"),
        (InitKind::Glorot, "glorot"),
        (InitKind::Normal, "normal"),
        (InitKind::ThesisCode, "thesis_code"),
    ];
}

impl std::str::FromStr for InitKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let w = s.replace('-', "_");
        InitKind::ALL
            .iter()
            .find(|(_, n)| *n == w)
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                format!("unknown initialisation `{s}` (expected he, glorot, normal or thesis_code)")
            })
    }
}

/// `#[serde(with)]` adapters that write the library types of a [`super::Config`] as words or
/// numbers: `nn::Scale` (`unit`, `raw`), `nn::Shuffle` (`every_epoch`, `once`, `never`,
/// `thesis_code`),
/// `nn::Arch` (its spec, `mlp:3x128`), `pvec::Persistence` (`"inf"` or a number).
pub(crate) mod words {
    use super::*;
    use nn::{Arch, Scale, Shuffle};
    use pvec::Persistence;

    pub const SCALES: [(Scale, &str); 2] = [(Scale::Unit, "unit"), (Scale::Raw, "raw")];
    pub const SHUFFLES: [(Shuffle, &str); 4] = [
        (Shuffle::EveryEpoch, "every_epoch"),
        (Shuffle::Once, "once"),
        (Shuffle::Never, "never"),
        (Shuffle::ThesisCode, "thesis_code"),
    ];

    fn word<T: PartialEq + Copy>(table: &[(T, &'static str)], v: T) -> &'static str {
        table
            .iter()
            .find(|(t, _)| *t == v)
            .map(|(_, n)| *n)
            .expect("every value is listed")
    }

    /// The value a word names (`-` read as `_`).
    pub fn parse<T: Copy>(table: &[(T, &'static str)], what: &str, s: &str) -> Result<T, String> {
        let w = s.replace('-', "_");
        table
            .iter()
            .find(|(_, n)| *n == w)
            .map(|(t, _)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = table.iter().map(|(_, n)| *n).collect();
                format!("unknown {what} `{s}` (expected {})", names.join(", "))
            })
    }

    pub mod scale {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Scale, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(word(&SCALES, *v))
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Scale, D::Error> {
            let s = String::deserialize(d)?;
            parse(&SCALES, "pixel scale", &s).map_err(serde::de::Error::custom)
        }
    }

    pub mod shuffle {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Shuffle, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(word(&SHUFFLES, *v))
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Shuffle, D::Error> {
            let s = String::deserialize(d)?;
            parse(&SHUFFLES, "shuffle", &s).map_err(serde::de::Error::custom)
        }
    }

    pub mod arch {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Arch, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(v)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arch, D::Error> {
            String::deserialize(d)?
                .parse()
                .map_err(serde::de::Error::custom)
        }
    }

    pub mod persistence {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Persistence, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Persistence::Bounded(n) => s.serialize_u32(*n),
                Persistence::Unbounded => s.serialize_str("inf"),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Persistence, D::Error> {
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum P {
                N(u32),
                S(String),
            }
            match P::deserialize(d)? {
                P::N(n) => Ok(Persistence::Bounded(n)),
                P::S(s) => s.parse().map_err(serde::de::Error::custom),
            }
        }
    }
}
