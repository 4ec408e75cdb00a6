//! Every step-size policy with its default settings either trains the default MLP (Leashed-SGD,
//! 2 workers, 3 epochs of the real MNIST) to at least 90 % test accuracy, or refuses to start
//! with a message naming the option to set.

use nn::{data, Scale};
use std::sync::atomic::AtomicBool;
use trainer::{train, Config, Job, Outcome, PolicyKind, Quiet};

#[test]
fn every_policy_default_trains_or_says_what_to_set() {
    let (tr, te) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).unwrap();
    let mut trained = Vec::new();
    for (policy, name) in PolicyKind::ALL {
        let cfg = Config {
            policy,
            eval_points: 0,
            ..Config::default()
        };
        if let Err(e) = cfg.validate() {
            let msg = e.to_string();
            assert!(
                msg.contains("set `"),
                "{name} refuses without naming an option: {msg}"
            );
            continue;
        }
        let net = cfg.arch.build(tr.shape, 10).unwrap();
        let stop = AtomicBool::new(false);
        let job = Job {
            config: &cfg,
            net: &net,
            train: &tr,
            test: &te,
            source: "mnist".into(),
            command: vec![],
            interrupt: &stop,
        };
        let r = train(&job, net.init_params(cfg.init(), cfg.seed), &mut Quiet).unwrap();
        assert_ne!(r.outcome, Outcome::Diverged, "{name}: {:?}", r.failure);
        assert!(
            r.final_eval.test_accuracy >= 0.9,
            "{name}: {:.2} % test accuracy, factors {:?}",
            100.0 * r.final_eval.test_accuracy,
            &r.step_size.factors[..4]
        );
        trained.push(name);
    }
    assert!(trained.len() >= 6, "trained: {trained:?}");
}
