use nn::{BatchSampler, Shuffle};
use std::collections::HashSet;

#[test]
fn every_epoch_is_a_permutation_and_batches_straddle_epochs() {
    let n = 10;
    let mut s = BatchSampler::new(n, 4, Shuffle::EveryEpoch, 1);
    let mut drawn = Vec::new();
    for _ in 0..15 {
        drawn.extend_from_slice(s.next_indices());
    }
    assert_eq!(drawn.len(), 60);
    assert!((s.epochs() - 6.0).abs() < 1e-12);
    let epochs: Vec<&[u32]> = drawn.chunks(n).collect();
    for e in &epochs {
        let set: HashSet<u32> = e.iter().copied().collect();
        assert_eq!(set.len(), n, "epoch {e:?} is not a permutation");
    }
    // Reshuffled: not every epoch has the same order.
    assert!(epochs.windows(2).any(|w| w[0] != w[1]));
}

#[test]
fn shuffle_modes_and_seeds() {
    let take = |shuffle, seed| {
        let mut s = BatchSampler::new(7, 3, shuffle, seed);
        (0..7)
            .flat_map(|_| s.next_indices().to_vec())
            .collect::<Vec<u32>>()
    };
    // Never: the data order, repeated.
    assert_eq!(
        take(Shuffle::Never, 1),
        (0..21).map(|i| i % 7).collect::<Vec<u32>>()
    );
    // Once: the same permutation every epoch.
    let once = take(Shuffle::Once, 5);
    assert_eq!(once[..7], once[7..14]);
    assert_ne!(once[..7], (0..7).collect::<Vec<u32>>()[..]);
    // Seeded: reproducible, and different seeds give different streams.
    assert_eq!(take(Shuffle::EveryEpoch, 3), take(Shuffle::EveryEpoch, 3));
    assert_ne!(take(Shuffle::EveryEpoch, 3), take(Shuffle::EveryEpoch, 4));
}

#[test]
fn thesis_code_batches_are_epoch_aligned_and_repeat() {
    // 10 samples at b = 4: batches of 4, 4, 2 (⌈10/4⌉ = 3, the last short), the same every epoch.
    let mut s = BatchSampler::new(10, 4, Shuffle::ThesisCode, 1337);
    let epoch = |s: &mut BatchSampler| {
        (0..3)
            .map(|_| s.next_indices().to_vec())
            .collect::<Vec<_>>()
    };
    let first = epoch(&mut s);
    assert_eq!(first.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
    assert!((s.epochs() - 1.0).abs() < 1e-12);
    let all: HashSet<u32> = first.iter().flatten().copied().collect();
    assert_eq!(all.len(), 10);
    assert_eq!(epoch(&mut s), first);
    // The permutation is the C++'s: Fisher–Yates by the seeded Park–Miller generator.
    let mut perm: Vec<u32> = (0..10).collect();
    nn::ThesisRng::new(1337).shuffle(&mut perm);
    assert_eq!(first.concat(), perm);
    assert_ne!(perm, (0..10).collect::<Vec<u32>>());
}

#[test]
fn thesis_code_at_mnist_scale_is_117_full_batches_and_one_of_96() {
    let mut s = BatchSampler::new(60_000, 512, Shuffle::ThesisCode, 1337);
    let sizes: Vec<usize> = (0..119).map(|_| s.next_indices().len()).collect();
    assert!(sizes[..117].iter().all(|&n| n == 512));
    assert_eq!(sizes[117], 96);
    assert_eq!(sizes[118], 512, "the next epoch starts a new full batch");
}
