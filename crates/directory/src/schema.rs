//! The manifest compiled for evaluation: every type and relation name interned, every permission an
//! expression tree over interned ids, and the reverse references that lookups walk.

use lictor_model::{Manifest, PermissionExpr, SubjectType};
use rustc_hash::{FxHashMap, FxHashSet};

/// Interned object type.
pub type TypeId = u32;
/// Interned relation or permission name; [`NO_NAME`] stands for "no relation" (a direct subject).
pub type NameId = u32;
/// The empty relation name of a direct subject.
pub const NO_NAME: NameId = 0;

/// Type and relation names, interned. Append-only, so ids stay stable when the manifest changes and the
/// relation index never has to be rebuilt.
#[derive(Debug, Clone)]
pub struct Symbols {
    types: Vec<String>,
    type_ids: FxHashMap<String, TypeId>,
    names: Vec<String>,
    name_ids: FxHashMap<String, NameId>,
}

impl Default for Symbols {
    fn default() -> Self {
        let mut name_ids = FxHashMap::default();
        name_ids.insert(String::new(), NO_NAME);
        Symbols {
            types: Vec::new(),
            type_ids: FxHashMap::default(),
            names: vec![String::new()],
            name_ids,
        }
    }
}

impl Symbols {
    /// The id of a type name, if known.
    pub fn type_id(&self, name: &str) -> Option<TypeId> {
        self.type_ids.get(name).copied()
    }

    /// The id of a relation or permission name, if known (`""` is [`NO_NAME`]).
    pub fn name_id(&self, name: &str) -> Option<NameId> {
        self.name_ids.get(name).copied()
    }

    /// The name of a type id.
    pub fn type_name(&self, id: TypeId) -> &str {
        self.types.get(id as usize).map_or("?", String::as_str)
    }

    /// The relation or permission name of an id.
    pub fn name(&self, id: NameId) -> &str {
        self.names.get(id as usize).map_or("?", String::as_str)
    }

    /// How many relation names are interned (ids are `0..name_count()`).
    pub fn name_count(&self) -> NameId {
        self.names.len() as NameId
    }

    fn intern_type(&mut self, name: &str) -> TypeId {
        if let Some(id) = self.type_ids.get(name) {
            return *id;
        }
        let id = self.types.len() as TypeId;
        self.types.push(name.to_string());
        self.type_ids.insert(name.to_string(), id);
        id
    }

    fn intern_name(&mut self, name: &str) -> NameId {
        if let Some(id) = self.name_ids.get(name) {
            return *id;
        }
        let id = self.names.len() as NameId;
        self.names.push(name.to_string());
        self.name_ids.insert(name.to_string(), id);
        id
    }
}

/// What a relation admits as subjects.
#[derive(Debug, Clone, Default)]
pub struct RelationPlan {
    /// Types admitted as plain objects (`user`).
    pub direct: Vec<TypeId>,
    /// Subject sets admitted (`group#member`).
    pub sets: Vec<(TypeId, NameId)>,
    /// Types admitted as wildcards (`user:*`).
    pub wildcards: Vec<TypeId>,
}

/// A compiled permission expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A relation or permission of the same object.
    Ref(NameId),
    /// `via->target`: `target` on every direct subject of `via`.
    Arrow {
        /// The relation whose subjects are followed.
        via: NameId,
        /// The relation or permission evaluated on each subject.
        target: NameId,
    },
    /// Any child holds.
    Union(Box<[Expr]>),
    /// Every child holds.
    Intersection(Box<[Expr]>),
    /// The first holds and the second does not.
    Exclusion(Box<Expr>, Box<Expr>),
}

/// The definition of a name on a type.
#[derive(Debug, Clone)]
pub enum Definition {
    /// A relation, stored as tuples.
    Relation(RelationPlan),
    /// A permission, computed from an expression.
    Permission(Expr),
}

/// A permission that uses `via->target`, indexed by the subject type and `target` it reads.
#[derive(Debug, Clone, Copy)]
pub struct ArrowUse {
    /// The type that declares the permission.
    pub object_type: TypeId,
    /// The relation followed.
    pub via: NameId,
    /// The permission that holds when the arrow does.
    pub permission: NameId,
}

/// The compiled manifest.
#[derive(Debug, Clone)]
pub struct Schema {
    symbols: Symbols,
    manifest: Manifest,
    source: String,
    /// `definitions[type * stride + name]`.
    definitions: Vec<Option<Definition>>,
    stride: usize,
    /// Whether each interned type is declared by this manifest (older manifests may have left others).
    declared: Vec<bool>,
    /// Per definition slot: a relation whose subject sets, followed to any depth, all name relations,
    /// so membership in it is plain reachability over tuples.
    pure: Vec<bool>,
    /// `(type, relation)` pairs that some relation admits as a subject set (`group#member`).
    set_capable: FxHashSet<(TypeId, NameId)>,
    /// The relation names of `set_capable`, deduplicated.
    set_names: Vec<NameId>,
    /// Permissions on the same type that mention a name as a plain reference: `(type, name) → permissions`.
    ref_uses: FxHashMap<(TypeId, NameId), Vec<NameId>>,
    /// Permissions whose arrow reads `target` on a subject type: `(subject type, target) → uses`.
    arrow_uses: FxHashMap<(TypeId, NameId), Vec<ArrowUse>>,
}

impl Default for Schema {
    fn default() -> Self {
        Schema::compile(Manifest::default(), String::new(), &Symbols::default())
    }
}

impl Schema {
    /// Compiles a validated manifest, extending `previous` symbols so existing ids keep their meaning.
    pub fn compile(manifest: Manifest, source: String, previous: &Symbols) -> Schema {
        let mut symbols = previous.clone();
        for ty in &manifest.types {
            symbols.intern_type(&ty.name);
            for rel in &ty.relations {
                symbols.intern_name(&rel.name);
                for subject in &rel.subjects {
                    symbols.intern_type(subject.object_type());
                    if let SubjectType::Set { relation, .. } = subject {
                        symbols.intern_name(relation);
                    }
                }
            }
            for perm in &ty.permissions {
                symbols.intern_name(&perm.name);
            }
        }
        let stride = symbols.names.len();
        let mut declared = vec![false; symbols.types.len()];
        for ty in &manifest.types {
            if let Some(slot) = symbols
                .type_id(&ty.name)
                .and_then(|id| declared.get_mut(id as usize))
            {
                *slot = true;
            }
        }
        let mut definitions = vec![None; symbols.types.len() * stride];
        let mut ref_uses: FxHashMap<(TypeId, NameId), Vec<NameId>> = FxHashMap::default();
        let mut arrow_uses: FxHashMap<(TypeId, NameId), Vec<ArrowUse>> = FxHashMap::default();
        let mut compiler = ExprCompiler {
            symbols: &mut symbols,
        };
        for ty in &manifest.types {
            let type_id = compiler.symbols.intern_type(&ty.name);
            for rel in &ty.relations {
                let name = compiler.symbols.intern_name(&rel.name);
                let mut plan = RelationPlan::default();
                for subject in &rel.subjects {
                    let subject_type = compiler.symbols.intern_type(subject.object_type());
                    match subject {
                        SubjectType::Direct { .. } => plan.direct.push(subject_type),
                        SubjectType::Set { relation, .. } => {
                            let relation = compiler.symbols.intern_name(relation);
                            plan.sets.push((subject_type, relation));
                        }
                        SubjectType::Wildcard { .. } => plan.wildcards.push(subject_type),
                    }
                }
                if let Some(slot) = definitions.get_mut(type_id as usize * stride + name as usize) {
                    *slot = Some(Definition::Relation(plan));
                }
            }
        }
        for ty in &manifest.types {
            let type_id = compiler.symbols.intern_type(&ty.name);
            for perm in &ty.permissions {
                let name = compiler.symbols.intern_name(&perm.name);
                let expr = compiler.compile(&perm.expr);
                let mut refs = Vec::new();
                let mut arrows = Vec::new();
                collect_leaves(&expr, &mut refs, &mut arrows);
                for r in refs {
                    let uses = ref_uses.entry((type_id, r)).or_default();
                    if !uses.contains(&name) {
                        uses.push(name);
                    }
                }
                for (via, target) in arrows {
                    for subject_type in hop_types(&manifest, ty, compiler.symbols.name(via)) {
                        let Some(subject_type) = compiler.symbols.type_id(&subject_type) else {
                            continue;
                        };
                        arrow_uses
                            .entry((subject_type, target))
                            .or_default()
                            .push(ArrowUse {
                                object_type: type_id,
                                via,
                                permission: name,
                            });
                    }
                }
                if let Some(slot) = definitions.get_mut(type_id as usize * stride + name as usize) {
                    *slot = Some(Definition::Permission(expr));
                }
            }
        }
        let (pure, set_capable, set_names) = reachability_facts(&definitions, stride);
        Schema {
            symbols,
            manifest,
            source,
            definitions,
            stride,
            declared,
            pure,
            set_capable,
            set_names,
            ref_uses,
            arrow_uses,
        }
    }

    /// The interned names.
    pub fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    /// The manifest this schema was compiled from.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest's YAML source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The id of a type this manifest declares.
    #[inline]
    pub fn declared_type(&self, name: &str) -> Option<TypeId> {
        let id = self.symbols.type_id(name)?;
        self.declared
            .get(id as usize)
            .copied()
            .unwrap_or(false)
            .then_some(id)
    }

    /// The definition of `name` on `object_type`, if the manifest has one.
    #[inline]
    pub fn definition(&self, object_type: TypeId, name: NameId) -> Option<&Definition> {
        if name as usize >= self.stride {
            return None;
        }
        self.definitions
            .get(object_type as usize * self.stride + name as usize)
            .and_then(Option::as_ref)
    }

    /// Whether membership in this relation is plain reachability over tuples (see [`Schema::compile`]).
    #[inline]
    pub fn is_pure_relation(&self, object_type: TypeId, name: NameId) -> bool {
        self.pure
            .get(object_type as usize * self.stride + name as usize)
            .copied()
            .unwrap_or(false)
    }

    /// Whether some relation admits `object_type#name` as a subject set.
    #[inline]
    pub fn is_set_capable(&self, object_type: TypeId, name: NameId) -> bool {
        self.set_capable.contains(&(object_type, name))
    }

    /// Relation names that some relation admits in a subject set.
    pub fn set_names(&self) -> &[NameId] {
        &self.set_names
    }

    /// The relation plan of `name` on `object_type`, if it is a relation.
    pub fn relation_plan(&self, object_type: TypeId, name: NameId) -> Option<&RelationPlan> {
        match self.definition(object_type, name) {
            Some(Definition::Relation(plan)) => Some(plan),
            _ => None,
        }
    }

    /// Permissions of `object_type` that reference `name` directly.
    pub fn ref_uses(&self, object_type: TypeId, name: NameId) -> &[NameId] {
        self.ref_uses
            .get(&(object_type, name))
            .map_or(&[], Vec::as_slice)
    }

    /// Arrows that read `target` on objects of `subject_type`.
    pub fn arrow_uses(&self, subject_type: TypeId, target: NameId) -> &[ArrowUse] {
        self.arrow_uses
            .get(&(subject_type, target))
            .map_or(&[], Vec::as_slice)
    }
}

struct ExprCompiler<'a> {
    symbols: &'a mut Symbols,
}

impl ExprCompiler<'_> {
    fn compile(&mut self, expr: &PermissionExpr) -> Expr {
        match expr {
            PermissionExpr::Ref { name, .. } => Expr::Ref(self.symbols.intern_name(name)),
            PermissionExpr::Arrow {
                relation, target, ..
            } => Expr::Arrow {
                via: self.symbols.intern_name(relation),
                target: self.symbols.intern_name(target),
            },
            PermissionExpr::Union(items) => {
                Expr::Union(items.iter().map(|e| self.compile(e)).collect())
            }
            PermissionExpr::Intersection(items) => {
                Expr::Intersection(items.iter().map(|e| self.compile(e)).collect())
            }
            PermissionExpr::Exclusion(include, exclude) => Expr::Exclusion(
                Box::new(self.compile(include)),
                Box::new(self.compile(exclude)),
            ),
        }
    }
}

/// Which relations are pure (their subject sets, to any depth, name only relations), which
/// `(type, relation)` pairs can be subject sets, and their names.
fn reachability_facts(
    definitions: &[Option<Definition>],
    stride: usize,
) -> (Vec<bool>, FxHashSet<(TypeId, NameId)>, Vec<NameId>) {
    let slot = |ty: TypeId, name: NameId| ty as usize * stride + name as usize;
    let mut pure: Vec<bool> = definitions
        .iter()
        .map(|d| matches!(d, Some(Definition::Relation(_))))
        .collect();
    let mut set_capable = FxHashSet::default();
    let mut set_names = Vec::new();
    for definition in definitions.iter().flatten() {
        if let Definition::Relation(plan) = definition {
            for (ty, name) in &plan.sets {
                set_capable.insert((*ty, *name));
                if !set_names.contains(name) {
                    set_names.push(*name);
                }
            }
        }
    }
    // Greatest fixpoint: a relation stays pure while every set it admits names a pure relation.
    let mut changed = true;
    while changed {
        changed = false;
        for (index, definition) in definitions.iter().enumerate() {
            let Some(Definition::Relation(plan)) = definition else {
                continue;
            };
            if !pure.get(index).copied().unwrap_or(false) {
                continue;
            }
            let all_pure = plan
                .sets
                .iter()
                .all(|(ty, name)| pure.get(slot(*ty, *name)).copied().unwrap_or(false));
            if !all_pure {
                if let Some(flag) = pure.get_mut(index) {
                    *flag = false;
                }
                changed = true;
            }
        }
    }
    (pure, set_capable, set_names)
}

/// The types of the objects an arrow over `via` on `ty` can reach: its plain subject types and, through
/// subject sets naming relations, theirs, to any depth.
fn hop_types(manifest: &Manifest, ty: &lictor_model::TypeDef, via: &str) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    let mut seen: Vec<(String, String)> = vec![(ty.name.clone(), via.to_string())];
    let mut queue = seen.clone();
    while let Some((type_name, relation)) = queue.pop() {
        let Some(plan) = manifest
            .type_def(&type_name)
            .and_then(|t| t.relation(&relation))
        else {
            continue;
        };
        for subject in &plan.subjects {
            match subject {
                SubjectType::Direct { object_type } => {
                    if !types.contains(object_type) {
                        types.push(object_type.clone());
                    }
                }
                SubjectType::Set {
                    object_type,
                    relation,
                } => {
                    let next = (object_type.clone(), relation.clone());
                    if !seen.contains(&next) {
                        seen.push(next.clone());
                        queue.push(next);
                    }
                }
                SubjectType::Wildcard { .. } => {}
            }
        }
    }
    types
}

fn collect_leaves(expr: &Expr, refs: &mut Vec<NameId>, arrows: &mut Vec<(NameId, NameId)>) {
    match expr {
        Expr::Ref(name) => refs.push(*name),
        Expr::Arrow { via, target } => arrows.push((*via, *target)),
        Expr::Union(items) | Expr::Intersection(items) => {
            for item in items.iter() {
                collect_leaves(item, refs, arrows);
            }
        }
        Expr::Exclusion(include, exclude) => {
            collect_leaves(include, refs, arrows);
            collect_leaves(exclude, refs, arrows);
        }
    }
}
