//! The machine a run measured: CPU model, cores, and the instruction set the kernels ran on.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// The CPU's model name.
    pub cpu: String,
    /// Cores available to this process.
    pub cores: usize,
    /// The instruction set of the `nn` kernels the run used (`avx512`, `avx2`, `portable`).
    pub isa: String,
    /// The instruction sets this CPU offers.
    pub isa_available: Vec<String>,
}

impl Machine {
    /// This machine, for a run on `isa`.
    pub fn detect(isa: nn::Isa) -> Self {
        Machine {
            cpu: nn::cpu_model(),
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            isa: isa.name().to_string(),
            isa_available: nn::Isa::available_here()
                .iter()
                .map(|i| i.name().to_string())
                .collect(),
        }
    }
}
