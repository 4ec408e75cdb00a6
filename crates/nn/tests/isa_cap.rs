//! `NN_ISA_MAX` hides the faster kernel families exactly as a CPU without them would: each case
//! runs this test binary again under the cap (a cap is read once per process) and checks, in that
//! child, detection, availability, the typed errors and what a network is built on.

use nn::kernels::isa::{ENV, MAX_ENV};
use nn::{Arch, Isa, IsaError};
use std::process::Command;

const THIS: &str = "a_cap_hides_the_faster_families";

#[test]
fn a_cap_hides_the_faster_families() {
    match std::env::var(MAX_ENV) {
        // The child (or a whole run under a cap, as `.ci/run` does).
        Ok(v) if !v.trim().is_empty() => return check_under_cap(&v),
        // Set but empty is no cap.
        Ok(_) => assert!(Isa::cap().is_none() && Isa::from_env().is_ok()),
        Err(_) => {}
    }
    for value in ["avx2", "portable", "bogus"] {
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", THIS, "--nocapture", "--test-threads=1"])
            .env(MAX_ENV, value)
            .env_remove(ENV)
            .output()
            .expect("run the test binary again");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{MAX_ENV}={value}: {text}"
        );
    }
}

fn check_under_cap(value: &str) {
    let Ok(max) = value.parse::<Isa>() else {
        // A value that names no family caps nothing, and building a network refuses it.
        assert_eq!(Isa::cap(), None);
        assert!(Isa::ALL.iter().all(|i| !i.hidden()));
        let err = Isa::from_env().expect_err("a bad cap is refused");
        assert!(
            matches!(err, IsaError::Env { var, .. } if var == MAX_ENV),
            "{err}"
        );
        let mnist = nn::arch::MNIST_INPUT;
        let mlp = Arch::Mlp {
            hidden_layers: 1,
            units: 8,
        };
        assert!(mlp.build(mnist, 10).is_err());
        return;
    };
    assert_eq!(Isa::cap(), Some(max));
    for isa in Isa::ALL {
        if isa < max {
            assert!(
                isa.hidden() && !isa.available(),
                "{isa} under the cap {max}"
            );
            let err = isa.check().expect_err("a hidden family is refused");
            if isa.detected() {
                assert!(
                    matches!(err, IsaError::Hidden { isa: i, max: m, .. } if i == isa && m == max),
                    "{err}"
                );
                assert!(err.to_string().contains(MAX_ENV), "{err}");
            } else {
                // The CPU lacks it anyway: that, not the cap, is the reason given.
                assert!(matches!(err, IsaError::Unavailable { .. }), "{err}");
            }
        } else {
            assert!(!isa.hidden());
        }
    }
    assert!(
        Isa::detect() >= max,
        "{:?} under the cap {max}",
        Isa::detect()
    );
    assert!(Isa::available_here().iter().all(|&i| i >= max));
    assert!(Isa::unavailable_here().iter().any(|&i| i < max) || max == Isa::Avx512);
    assert!(!nn::splits_512() || max == Isa::Avx512);
    // A network is built on at most the cap, its convolutions too, and forcing more is refused.
    let lenet = Arch::Lenet5
        .build(nn::arch::MNIST_INPUT, 10)
        .expect("network");
    assert!(lenet.isa() >= max && lenet.conv_isa() >= max);
    assert_eq!(
        lenet.clone().with_isa(Isa::Avx512).is_ok(),
        Isa::Avx512.available()
    );
    // And it computes: a gradient on the capped family is finite.
    let theta = lenet.init_params(nn::Init::He, 1);
    let x = vec![0.5f32; 2 * 28 * 28];
    let y = [3u8, 7];
    let mut grad = vec![0.0f32; lenet.num_params()];
    let mut scratch = lenet.scratch(2);
    let batch = nn::Batch {
        images: &x,
        labels: &y,
    };
    let loss = lenet.gradient(&theta, batch, &mut scratch, &mut grad);
    assert!(loss.is_finite() && grad.iter().all(|g| g.is_finite()));
}
