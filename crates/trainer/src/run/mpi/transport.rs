//! Open MPI's shared-memory transport, tuned for the parameter server before `MPI_Init`.
//!
//! vader (Open MPI's shared-memory BTL) sends a message above its eager limit (4 KB) by
//! rendezvous: the receiver copies it out of the sender's memory (CMA, `process_vm_readv`).
//! For the server that copy of a worker's gradient (539 KB for the MLP, written by another core
//! moments before) was the largest part of its cost per update: 43–50 µs of about 100 on
//! machine A (docs/mpi.md). A worker that sends its gradient eagerly copies it into shared
//! memory itself, on its own core, and the server's receive becomes a copy out of that
//! (17–21 µs). So worker ranks raise vader's eager limit to 1 MiB; the server keeps
//! rendezvous for its replies (sent from a buffer without waiting for the worker).
//!
//! Only under Open MPI's launcher (which sets `OMPI_COMM_WORLD_RANK`), and only when the user
//! set no vader parameter of their own (`--mca btl_vader_…` reaches the ranks as
//! `OMPI_MCA_btl_vader_…`): a partial set could be inconsistent (an eager fragment larger than
//! vader's segment stalls the sender), so theirs win whole. `ASGD_MPI_EAGER=0` turns it off.

/// vader's parameters for a worker rank: fragments up to 1 MiB, one allocated at a time (a
/// worker has one gradient in flight), in an 8 MiB segment (the default 4 MiB cannot hold a
/// 1 MiB fragment beside vader's own lists).
const WORKER: [(&str, &str); 5] = [
    ("OMPI_MCA_btl_vader_eager_limit", "1048576"),
    ("OMPI_MCA_btl_vader_max_send_size", "1048576"),
    ("OMPI_MCA_btl_vader_segment_size", "8388608"),
    ("OMPI_MCA_btl_vader_free_list_num", "1"),
    ("OMPI_MCA_btl_vader_free_list_inc", "1"),
];

/// The settings this process should add to its environment, given how it reads its own.
fn plan(
    var: impl Fn(&str) -> Option<String>,
    keys: impl Iterator<Item = String>,
) -> Vec<(&'static str, &'static str)> {
    let worker = var("OMPI_COMM_WORLD_RANK")
        .and_then(|r| r.parse::<u32>().ok())
        .is_some_and(|r| r > 0);
    let off = var("ASGD_MPI_EAGER").is_some_and(|v| v == "0");
    let theirs = keys
        .into_iter()
        .any(|k| k.starts_with("OMPI_MCA_btl_vader_"));
    if worker && !off && !theirs {
        WORKER.to_vec()
    } else {
        Vec::new()
    }
}

/// Set vader's parameters for a worker rank (see the module's comment). Call before
/// `MPI_Init`, while the process has one thread. Returns whether it did.
pub(crate) fn tune() -> bool {
    let set = plan(
        |k| std::env::var(k).ok(),
        std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()),
    );
    for (k, v) in &set {
        std::env::set_var(k, v);
    }
    !set.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(env: &[(&str, &str)]) -> Vec<(&'static str, &'static str)> {
        let m: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        plan(
            |k| m.get(k).cloned(),
            m.keys().cloned().collect::<Vec<_>>().into_iter(),
        )
    }

    #[test]
    fn only_open_mpi_worker_ranks_are_tuned() {
        assert_eq!(run(&[("OMPI_COMM_WORLD_RANK", "2")]).len(), WORKER.len());
        assert!(
            run(&[("OMPI_COMM_WORLD_RANK", "0")]).is_empty(),
            "the server"
        );
        assert!(run(&[]).is_empty(), "not under Open MPI's launcher");
        assert!(run(&[("OMPI_COMM_WORLD_RANK", "x")]).is_empty());
    }

    #[test]
    fn the_users_own_vader_settings_or_the_switch_leave_it_alone() {
        let mine = [
            ("OMPI_COMM_WORLD_RANK", "1"),
            ("OMPI_MCA_btl_vader_eager_limit", "65536"),
        ];
        assert!(run(&mine).is_empty());
        assert!(run(&[("OMPI_COMM_WORLD_RANK", "1"), ("ASGD_MPI_EAGER", "0")]).is_empty());
        assert_eq!(
            run(&[("OMPI_COMM_WORLD_RANK", "1"), ("ASGD_MPI_EAGER", "1")]).len(),
            WORKER.len()
        );
    }
}
