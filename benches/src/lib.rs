//! Generated data for the directory benchmarks: a drive-like model with 1M relations
//! (10k users, 1k groups nested 3 deep, 10k folders, 100k documents), from a fixed seed.

// Benchmark fixtures, like tests, may index and unwrap: a failure here is a broken benchmark.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use lictor_directory::{Directory, Schema};
use lictor_model::{parse_manifest, RelationRecord};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

/// The benchmark manifest.
pub const MANIFEST: &str = r#"model:
  version: 3
types:
  user: {}
  group:
    relations:
      member: user | group#member
  folder:
    relations:
      parent: folder
      owner: user
      viewer: user | group#member
    permissions:
      can_read: viewer | owner | parent->can_read
  document:
    relations:
      parent: folder
      owner: user
      viewer: user | group#member
    permissions:
      can_read: viewer | owner | parent->can_read
"#;

/// Sizes of the generated data set.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Users.
    pub users: usize,
    /// Top-level groups; each has `fan_out` middle groups, each with `fan_out` leaf groups.
    pub top_groups: usize,
    /// Children per group level.
    pub fan_out: usize,
    /// Folders.
    pub folders: usize,
    /// Documents.
    pub documents: usize,
    /// Relations to generate in all (document viewers fill the remainder).
    pub relations: usize,
}

impl Scale {
    /// 1M relations: 10k users, 1k groups nested 3 deep, 10k folders, 100k documents.
    pub const FULL: Scale = Scale {
        users: 10_000,
        top_groups: 10,
        fan_out: 10,
        folders: 10_000,
        documents: 100_000,
        relations: 1_000_000,
    };

    /// A small version for quick runs.
    pub const SMALL: Scale = Scale {
        users: 1_000,
        top_groups: 5,
        fan_out: 5,
        folders: 1_000,
        documents: 10_000,
        relations: 100_000,
    };
}

fn rel(ot: &str, oi: String, r: &str, st: &str, si: String, sr: &str) -> RelationRecord {
    RelationRecord {
        object_type: ot.to_string(),
        object_id: oi,
        relation: r.to_string(),
        subject_type: st.to_string(),
        subject_id: si,
        subject_relation: sr.to_string(),
    }
}

/// Generates the relations of a data set, always the same for the same scale.
pub fn relations(scale: Scale) -> Vec<RelationRecord> {
    let mut rng = StdRng::seed_from_u64(0x0011_c70a);
    let mut out = Vec::with_capacity(scale.relations);
    // Groups: g{top}, g{top}.{mid}, g{top}.{mid}.{leaf}; each level a member of its parent.
    let mut leaves = Vec::new();
    for top in 0..scale.top_groups {
        for mid in 0..scale.fan_out {
            let mid_id = format!("g{top}.{mid}");
            out.push(rel(
                "group",
                format!("g{top}"),
                "member",
                "group",
                mid_id.clone(),
                "member",
            ));
            for leaf in 0..scale.fan_out {
                let leaf_id = format!("g{top}.{mid}.{leaf}");
                out.push(rel(
                    "group",
                    mid_id.clone(),
                    "member",
                    "group",
                    leaf_id.clone(),
                    "member",
                ));
                leaves.push(leaf_id);
            }
        }
    }
    for user in 0..scale.users {
        for _ in 0..3 {
            let leaf = leaves[rng.gen_range(0..leaves.len())].clone();
            out.push(rel("group", leaf, "member", "user", format!("u{user}"), ""));
        }
    }
    let group_id = |rng: &mut StdRng| -> String {
        let top = rng.gen_range(0..scale.top_groups);
        match rng.gen_range(0..3) {
            0 => format!("g{top}"),
            1 => format!("g{top}.{}", rng.gen_range(0..scale.fan_out)),
            _ => format!(
                "g{top}.{}.{}",
                rng.gen_range(0..scale.fan_out),
                rng.gen_range(0..scale.fan_out)
            ),
        }
    };
    let roots = (scale.folders / 100).max(1);
    for folder in 0..scale.folders {
        if folder >= roots {
            let parent = rng.gen_range(0..folder);
            out.push(rel(
                "folder",
                format!("f{folder}"),
                "parent",
                "folder",
                format!("f{parent}"),
                "",
            ));
        }
        out.push(rel(
            "folder",
            format!("f{folder}"),
            "owner",
            "user",
            format!("u{}", rng.gen_range(0..scale.users)),
            "",
        ));
        out.push(rel(
            "folder",
            format!("f{folder}"),
            "viewer",
            "group",
            group_id(&mut rng),
            "member",
        ));
    }
    for doc in 0..scale.documents {
        out.push(rel(
            "document",
            format!("d{doc}"),
            "parent",
            "folder",
            format!("f{}", rng.gen_range(0..scale.folders)),
            "",
        ));
        out.push(rel(
            "document",
            format!("d{doc}"),
            "owner",
            "user",
            format!("u{}", rng.gen_range(0..scale.users)),
            "",
        ));
    }
    let mut doc = 0;
    while out.len() < scale.relations {
        let viewer = if rng.gen_bool(0.8) {
            rel(
                "document",
                format!("d{doc}"),
                "viewer",
                "user",
                format!("u{}", rng.gen_range(0..scale.users)),
                "",
            )
        } else {
            rel(
                "document",
                format!("d{doc}"),
                "viewer",
                "group",
                group_id(&mut rng),
                "member",
            )
        };
        out.push(viewer);
        doc = (doc + 1) % scale.documents;
    }
    out
}

/// A directory holding the benchmark manifest and these relations.
pub fn directory(relations: &[RelationRecord]) -> Directory {
    let mut directory = Directory::new();
    let manifest = parse_manifest(MANIFEST, "bench.yaml").unwrap_or_default();
    let schema = Schema::compile(manifest, MANIFEST.to_string(), directory.schema().symbols());
    directory.replace_schema(Arc::new(schema));
    for relation in relations {
        // Duplicates from the random generator are simply already present.
        let _ = directory.set_relation(relation);
    }
    directory.shrink_to_fit();
    directory
}

/// The JSON Lines import form of a relation.
pub fn jsonl_line(relation: &RelationRecord) -> String {
    format!(
        r#"{{"relation":{{"object_type":"{}","object_id":"{}","relation":"{}","subject_type":"{}","subject_id":"{}","subject_relation":"{}"}}}}"#,
        relation.object_type,
        relation.object_id,
        relation.relation,
        relation.subject_type,
        relation.subject_id,
        relation.subject_relation
    )
}
