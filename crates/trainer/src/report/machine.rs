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
    /// The instruction set of its direct convolutions and max-pools (`nn::Isa::for_convolution`:
    /// AVX2 under AVX-512 on CPUs that split 512-bit instructions). Absent in older reports.
    #[serde(default)]
    pub conv_isa: String,
    /// The instruction sets this CPU offers.
    pub isa_available: Vec<String>,
}

impl Machine {
    /// This machine, for a run of `net`.
    pub fn detect(net: &nn::Network) -> Self {
        Machine::with_isas(net.isa(), net.conv_isa())
    }

    /// This machine, for runs of networks on `isa` (convolutions on `isa.for_convolution()`).
    pub fn for_isa(isa: nn::Isa) -> Self {
        Machine::with_isas(isa, isa.for_convolution())
    }

    fn with_isas(isa: nn::Isa, conv: nn::Isa) -> Self {
        Machine {
            cpu: nn::cpu_model(),
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            isa: isa.name().to_string(),
            conv_isa: conv.name().to_string(),
            isa_available: nn::Isa::available_here()
                .iter()
                .map(|i| i.name().to_string())
                .collect(),
        }
    }

    /// The instruction sets in words: `avx512`, or `avx512 (convolutions avx2)` when the
    /// convolutions ran another one (as `nn::Network::isa_path`).
    pub fn isa_path(&self) -> String {
        if self.conv_isa.is_empty() || self.conv_isa == self.isa {
            self.isa.clone()
        } else {
            format!("{} (convolutions {})", self.isa, self.conv_isa)
        }
    }
}
