//! Cerbos's `hierarchy` type: a dotted (or otherwise delimited) path such as `a.b.c`, compared
//! level by level.
use std::any::Any;

use ::cel::common::traits::{Indexer, Sizer};
use ::cel::common::types::{
    CelBool, CelInt, CelList, CelString, Kind, Type, LIST_TYPE, STRING_TYPE,
};
use ::cel::common::value::{CowVal, StaticVal, Val};
use ::cel::{DeclarationError, Env, ExecutionError};

/// The CEL type of hierarchies.
pub(super) static HIERARCHY_TYPE: Type = Type::simple_type(Kind::Opaque, "hierarchy");

/// The levels of a hierarchy, outermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Hierarchy(Vec<String>);

impl Val for Hierarchy {
    fn get_type(&self) -> &Type {
        &HIERARCHY_TYPE
    }

    fn cel_type() -> &'static Type {
        &HIERARCHY_TYPE
    }

    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }

    fn as_sizer(&self) -> Option<&dyn Sizer> {
        Some(self)
    }

    fn equals(&self, other: &dyn Val) -> bool {
        other.downcast_ref::<Hierarchy>().is_some_and(|o| o == self)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        Box::new(self.clone())
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl StaticVal for Hierarchy {}

impl Hierarchy {
    fn level(&self, idx: &dyn Val) -> Result<&str, ExecutionError> {
        let index = idx.downcast_ref::<CelInt>().ok_or_else(|| {
            ExecutionError::function_error(
                "hierarchy",
                format!("unsupported index type '{}'", idx.get_type().name()),
            )
        })?;
        usize::try_from(*index.inner())
            .ok()
            .and_then(|i| self.0.get(i))
            .map(String::as_str)
            .ok_or_else(|| ExecutionError::function_error("hierarchy", "index out of range"))
    }

    fn is_prefix_of(&self, other: &Hierarchy) -> bool {
        self.0.len() <= other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| a == b)
    }

    fn ancestor_of(&self, other: &Hierarchy) -> bool {
        self.0.len() < other.0.len() && self.is_prefix_of(other)
    }

    fn immediate_parent_of(&self, other: &Hierarchy) -> bool {
        self.0.len() + 1 == other.0.len() && self.is_prefix_of(other)
    }

    fn sibling_of(&self, other: &Hierarchy) -> bool {
        let parent = self.0.len().saturating_sub(1);
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .take(parent)
                .all(|(a, b)| a == b)
    }

    fn overlaps(&self, other: &Hierarchy) -> bool {
        self.is_prefix_of(other) || other.is_prefix_of(self)
    }

    /// The common prefix; of two hierarchies of the same length, their parents' common prefix,
    /// so that a hierarchy is never its own ancestor.
    fn common_ancestors(&self, other: &Hierarchy) -> Hierarchy {
        let same_length = self.0.len() == other.0.len();
        let limit = if same_length {
            self.0.len().saturating_sub(1)
        } else {
            self.0.len().min(other.0.len())
        };
        Hierarchy(
            self.0
                .iter()
                .zip(&other.0)
                .take(limit)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.clone())
                .collect(),
        )
    }
}

impl Indexer for Hierarchy {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let level = self.level(idx)?;
        Ok(CowVal::owned(CelString::from(level.to_owned())))
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let level = self.level(idx)?;
        Ok(Box::new(CelString::from(level.to_owned())))
    }
}

impl Sizer for Hierarchy {
    fn size(&self) -> CelInt {
        CelInt::from(i64::try_from(self.0.len()).unwrap_or(i64::MAX))
    }
}

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Returns<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn arg<'a, 'b, 'v, T: ::cel::common::value::FromVal<'a, 'v>>(
    args: &'a [CowVal<'b, 'v>],
    index: usize,
    function: &str,
) -> Result<&'a T, ExecutionError> {
    args.get(index)
        .and_then(|a| a.downcast_ref::<T>())
        .ok_or_else(|| ExecutionError::function_error(function, "unexpected argument type"))
}

fn from_string<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let path = arg::<CelString>(&args, 0, "hierarchy")?.inner();
    Ok(CowVal::owned(Hierarchy(
        path.split('.').map(str::to_owned).collect(),
    )))
}

fn from_delimited<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let path = arg::<CelString>(&args, 0, "hierarchy")?.inner();
    let delimiter = arg::<CelString>(&args, 1, "hierarchy")?.inner();
    let levels: Vec<String> = if delimiter.is_empty() {
        // Go's strings.Split with an empty separator splits into characters.
        path.chars().map(String::from).collect()
    } else {
        path.split(delimiter).map(str::to_owned).collect()
    };
    Ok(CowVal::owned(Hierarchy(levels)))
}

fn from_list<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let items = arg::<CelList>(&args, 0, "hierarchy")?.inner();
    let levels = items
        .iter()
        .map(|item| {
            item.downcast_ref::<CelString>()
                .map(|s| s.inner().to_owned())
                .ok_or_else(|| {
                    ExecutionError::function_error("hierarchy", "expected a list of strings")
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CowVal::owned(Hierarchy(levels)))
}

fn identity<'b, 'v>(mut args: Args<'b, 'v>) -> Returns<'b, 'v> {
    args.pop()
        .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))
}

fn size<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let h = arg::<Hierarchy>(&args, 0, "size")?;
    Ok(CowVal::owned(h.size()))
}

macro_rules! predicate {
    ($name:ident, $function:literal, $method:ident) => {
        fn $name<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
            let h = arg::<Hierarchy>(&args, 0, $function)?;
            let other = arg::<Hierarchy>(&args, 1, $function)?;
            Ok(CowVal::owned(CelBool::from(h.$method(other))))
        }
    };
}

predicate!(ancestor_of, "ancestorOf", ancestor_of);
predicate!(
    immediate_parent_of,
    "immediateParentOf",
    immediate_parent_of
);
predicate!(sibling_of, "siblingOf", sibling_of);
predicate!(overlaps, "overlaps", overlaps);

fn descendent_of<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let h = arg::<Hierarchy>(&args, 0, "descendentOf")?;
    let other = arg::<Hierarchy>(&args, 1, "descendentOf")?;
    Ok(CowVal::owned(CelBool::from(other.ancestor_of(h))))
}

fn immediate_child_of<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let h = arg::<Hierarchy>(&args, 0, "immediateChildOf")?;
    let other = arg::<Hierarchy>(&args, 1, "immediateChildOf")?;
    Ok(CowVal::owned(CelBool::from(other.immediate_parent_of(h))))
}

fn common_ancestors<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let h = arg::<Hierarchy>(&args, 0, "commonAncestors")?;
    let other = arg::<Hierarchy>(&args, 1, "commonAncestors")?;
    Ok(CowVal::owned(h.common_ancestors(other)))
}

/// Declares `hierarchy(...)` and the hierarchy methods.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(HIERARCHY_TYPE.to_owned())?;
    env.add_overload(
        "hierarchy",
        "hierarchy_string",
        vec![STRING_TYPE],
        from_string,
    )?;
    env.add_overload(
        "hierarchy",
        "hierarchy_string_delimiter",
        vec![STRING_TYPE, STRING_TYPE],
        from_delimited,
    )?;
    env.add_overload("hierarchy", "hierarchy_list", vec![LIST_TYPE], from_list)?;
    env.add_overload(
        "hierarchy",
        "hierarchy_hierarchy",
        vec![HIERARCHY_TYPE.to_owned()],
        identity,
    )?;
    env.add_overload(
        "size",
        "size_hierarchy",
        vec![HIERARCHY_TYPE.to_owned()],
        size,
    )?;
    env.add_member_overload(
        "size",
        "hierarchy_size",
        HIERARCHY_TYPE.to_owned(),
        vec![],
        size,
    )?;
    let methods: [(&str, ::cel::common::functions::Function); 7] = [
        ("ancestorOf", ancestor_of),
        ("commonAncestors", common_ancestors),
        ("descendentOf", descendent_of),
        ("immediateChildOf", immediate_child_of),
        ("immediateParentOf", immediate_parent_of),
        ("overlaps", overlaps),
        ("siblingOf", sibling_of),
    ];
    for (name, function) in methods {
        env.add_member_overload(
            name,
            &format!("hierarchy_{name}"),
            HIERARCHY_TYPE.to_owned(),
            vec![HIERARCHY_TYPE.to_owned()],
            function,
        )?;
    }
    Ok(())
}
