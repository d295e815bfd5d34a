//! Cerbos's SPIFFE functions: `spiffeID`, `spiffeTrustDomain` and the `spiffeMatch*` matchers,
//! with the SPIFFE ID syntax (`spiffe://trust.domain/path/segments`).
use std::any::Any;

use ::cel::common::functions::Function;
use ::cel::common::types::{CelBool, CelList, CelString, Kind, Type, LIST_TYPE, STRING_TYPE};
use ::cel::common::value::{CowVal, StaticVal, Val};
use ::cel::{DeclarationError, Env, ExecutionError};

static ID_TYPE: Type = Type::simple_type(Kind::Opaque, "cerbos.SPIFFEID");
static TRUST_DOMAIN_TYPE: Type = Type::simple_type(Kind::Opaque, "cerbos.SPIFFETrustDomain");
static MATCHER_TYPE: Type = Type::simple_type(Kind::Opaque, "cerbos.SPIFFEMatcher");

const SCHEME: &str = "spiffe://";

/// A SPIFFE ID: its trust domain's name and its path (empty or `/a/b`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct SpiffeId {
    trust_domain: String,
    path: String,
}

/// A trust domain's name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TrustDomain(String);

/// Which SPIFFE IDs a matcher accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Matcher {
    Any,
    OneOf(Vec<SpiffeId>),
    MemberOf(TrustDomain),
}

impl SpiffeId {
    fn text(&self) -> String {
        format!("{SCHEME}{}{}", self.trust_domain, self.path)
    }
}

fn valid_trust_domain(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
}

fn parse_id(text: &str) -> Result<SpiffeId, String> {
    let invalid = |why: &str| format!("invalid SPIFFE ID {text:?}: {why}");
    let rest = text
        .strip_prefix(SCHEME)
        .ok_or_else(|| invalid("scheme is missing or invalid"))?;
    let (trust_domain, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !valid_trust_domain(trust_domain) {
        return Err(invalid("trust domain is missing or has invalid characters"));
    }
    if !path.is_empty() {
        for segment in path.split('/').skip(1) {
            if segment.is_empty() {
                return Err(invalid("path cannot contain empty segments"));
            }
            if segment == "." || segment == ".." {
                return Err(invalid("path cannot contain dot segments"));
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            {
                return Err(invalid("path segment characters are limited to letters, numbers, dots, dashes, and underscores"));
            }
        }
    }
    Ok(SpiffeId {
        trust_domain: trust_domain.to_owned(),
        path: path.to_owned(),
    })
}

/// A trust domain from its name or from a SPIFFE ID in it.
fn parse_trust_domain(text: &str) -> Result<TrustDomain, String> {
    if text.contains(":/") {
        return parse_id(text).map(|id| TrustDomain(id.trust_domain));
    }
    if valid_trust_domain(text) {
        Ok(TrustDomain(text.to_owned()))
    } else {
        Err(format!("invalid trust domain {text:?}"))
    }
}

macro_rules! opaque_val {
    ($name:ident, $type:ident, |$self_:ident, $other:ident| $equals:expr) => {
        impl Val for $name {
            fn get_type(&self) -> &Type {
                &$type
            }

            fn cel_type() -> &'static Type {
                &$type
            }

            fn equals(&self, $other: &dyn Val) -> bool {
                let $self_ = self;
                $equals
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

        impl StaticVal for $name {}
    };
}

opaque_val!(SpiffeId, ID_TYPE, |id, other| {
    match (
        other.downcast_ref::<SpiffeId>(),
        other.downcast_ref::<CelString>(),
    ) {
        (Some(o), _) => o == id,
        (None, Some(s)) => s.inner() == id.text(),
        _ => false,
    }
});
opaque_val!(TrustDomain, TRUST_DOMAIN_TYPE, |td, other| {
    match (
        other.downcast_ref::<TrustDomain>(),
        other.downcast_ref::<CelString>(),
    ) {
        (Some(o), _) => o == td,
        (None, Some(s)) => parse_trust_domain(s.inner()).is_ok_and(|o| o == *td),
        _ => false,
    }
});
opaque_val!(Matcher, MATCHER_TYPE, |m, other| {
    other.downcast_ref::<Matcher>().is_some_and(|o| o == m)
});

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Returns<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn first<'a>(args: &'a [CowVal<'_, '_>], function: &str) -> Result<&'a dyn Val, ExecutionError> {
    args.first()
        .map(|a| a.as_ref() as &dyn Val)
        .ok_or_else(|| ExecutionError::function_error(function, "missing argument"))
}

fn fail(function: &str) -> impl Fn(String) -> ExecutionError + '_ {
    move |message| ExecutionError::function_error(function, message)
}

/// A SPIFFE ID value or string.
fn id_arg(value: &dyn Val, function: &str) -> Result<SpiffeId, ExecutionError> {
    if let Some(id) = value.downcast_ref::<SpiffeId>() {
        return Ok(id.clone());
    }
    let text = value
        .downcast_ref::<CelString>()
        .ok_or_else(|| ExecutionError::function_error(function, "expected a SPIFFE ID"))?;
    parse_id(text.inner()).map_err(fail(function))
}

/// A trust domain value or string.
fn trust_domain_arg(value: &dyn Val, function: &str) -> Result<TrustDomain, ExecutionError> {
    if let Some(td) = value.downcast_ref::<TrustDomain>() {
        return Ok(td.clone());
    }
    let text = value
        .downcast_ref::<CelString>()
        .ok_or_else(|| ExecutionError::function_error(function, "expected a trust domain"))?;
    parse_trust_domain(text.inner()).map_err(fail(function))
}

fn spiffe_id<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    Ok(CowVal::owned(id_arg(
        first(&args, "spiffeID")?,
        "spiffeID",
    )?))
}

fn spiffe_trust_domain<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let function = "spiffeTrustDomain";
    Ok(CowVal::owned(trust_domain_arg(
        first(&args, function)?,
        function,
    )?))
}

fn match_any<'b, 'v>(_: Args<'b, 'v>) -> Returns<'b, 'v> {
    Ok(CowVal::owned(Matcher::Any))
}

fn match_exact<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let id = id_arg(first(&args, "spiffeMatchExact")?, "spiffeMatchExact")?;
    Ok(CowVal::owned(Matcher::OneOf(vec![id])))
}

fn match_one_of<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let function = "spiffeMatchOneOf";
    let list = first(&args, function)?
        .downcast_ref::<CelList>()
        .ok_or_else(|| ExecutionError::function_error(function, "expected a list"))?;
    let ids = list
        .inner()
        .iter()
        .map(|item| id_arg(item.as_ref(), function))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CowVal::owned(Matcher::OneOf(ids)))
}

fn match_trust_domain<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let function = "spiffeMatchTrustDomain";
    let td = trust_domain_arg(first(&args, function)?, function)?;
    Ok(CowVal::owned(Matcher::MemberOf(td)))
}

fn this<'a, T: StaticVal>(
    args: &'a [CowVal<'_, '_>],
    function: &str,
) -> Result<&'a T, ExecutionError> {
    args.first()
        .and_then(|a| a.downcast_ref::<T>())
        .ok_or_else(|| ExecutionError::function_error(function, "unexpected target type"))
}

fn second<'a>(args: &'a [CowVal<'_, '_>], function: &str) -> Result<&'a dyn Val, ExecutionError> {
    args.get(1)
        .map(|a| a.as_ref() as &dyn Val)
        .ok_or_else(|| ExecutionError::function_error(function, "missing argument"))
}

fn string_val<'b, 'v>(s: String) -> Returns<'b, 'v> {
    Ok(CowVal::owned(CelString::from(s)))
}

fn is_member_of<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let id = this::<SpiffeId>(&args, "isMemberOf")?;
    let td = trust_domain_arg(second(&args, "isMemberOf")?, "isMemberOf")?;
    Ok(CowVal::owned(CelBool::from(id.trust_domain == td.0)))
}

fn id_path<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    string_val(this::<SpiffeId>(&args, "path")?.path.clone())
}

fn id_trust_domain<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let id = this::<SpiffeId>(&args, "trustDomain")?;
    Ok(CowVal::owned(TrustDomain(id.trust_domain.clone())))
}

fn trust_domain_id<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    string_val(format!("{SCHEME}{}", this::<TrustDomain>(&args, "id")?.0))
}

fn trust_domain_name<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    string_val(this::<TrustDomain>(&args, "name")?.0.clone())
}

fn matches_id<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let matcher = this::<Matcher>(&args, "matchesID")?;
    let id = id_arg(second(&args, "matchesID")?, "matchesID")?;
    let matched = match matcher {
        Matcher::Any => true,
        Matcher::OneOf(ids) => ids.contains(&id),
        Matcher::MemberOf(td) => id.trust_domain == td.0,
    };
    Ok(CowVal::owned(CelBool::from(matched)))
}

fn string_of_id<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    string_val(this::<SpiffeId>(&args, "string")?.text())
}

/// Declares the SPIFFE functions and types.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let (id, td, matcher) = (
        || ID_TYPE.to_owned(),
        || TRUST_DOMAIN_TYPE.to_owned(),
        || MATCHER_TYPE.to_owned(),
    );
    env.add_type(id())?;
    env.add_type(td())?;
    env.add_type(matcher())?;
    env.add_overload("spiffeID", "spiffeID_string", vec![STRING_TYPE], spiffe_id)?;
    env.add_overload(
        "spiffeTrustDomain",
        "spiffeTrustDomain_string",
        vec![STRING_TYPE],
        spiffe_trust_domain,
    )?;
    env.add_overload("spiffeMatchAny", "spiffeMatchAny", vec![], match_any)?;
    env.add_overload(
        "spiffeMatchExact",
        "spiffeMatchExact_string",
        vec![STRING_TYPE],
        match_exact,
    )?;
    env.add_overload(
        "spiffeMatchExact",
        "spiffeMatchExact_id",
        vec![id()],
        match_exact,
    )?;
    env.add_overload(
        "spiffeMatchOneOf",
        "spiffeMatchOneOf_list",
        vec![LIST_TYPE],
        match_one_of,
    )?;
    env.add_overload(
        "spiffeMatchTrustDomain",
        "spiffeMatchTrustDomain_string",
        vec![STRING_TYPE],
        match_trust_domain,
    )?;
    env.add_overload(
        "spiffeMatchTrustDomain",
        "spiffeMatchTrustDomain_td",
        vec![td()],
        match_trust_domain,
    )?;
    env.add_overload("string", "string_spiffeID", vec![id()], string_of_id)?;
    env.add_member_overload(
        "isMemberOf",
        "spiffeID_isMemberOf",
        id(),
        vec![td()],
        is_member_of,
    )?;
    let id_methods: [(&str, Function); 2] = [("path", id_path), ("trustDomain", id_trust_domain)];
    for (name, function) in id_methods {
        env.add_member_overload(name, &format!("spiffeID_{name}"), id(), vec![], function)?;
    }
    let td_methods: [(&str, Function); 2] = [("id", trust_domain_id), ("name", trust_domain_name)];
    for (name, function) in td_methods {
        env.add_member_overload(
            name,
            &format!("spiffeTrustDomain_{name}"),
            td(),
            vec![],
            function,
        )?;
    }
    env.add_member_overload(
        "matchesID",
        "matchesID_spiffeID",
        matcher(),
        vec![id()],
        matches_id,
    )?;
    env.add_member_overload(
        "matchesID",
        "matchesID_string",
        matcher(),
        vec![STRING_TYPE],
        matches_id,
    )?;
    Ok(())
}
