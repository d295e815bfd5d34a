//! Cerbos's extension functions other than hierarchies, and the internal helpers the compiler's
//! rewrites and macros call.
use std::collections::HashMap;
use std::net::IpAddr;

use ::cel::common::functions::Function;
use ::cel::common::types::{
    CelBool, CelDouble, CelDuration, CelInt, CelList, CelMap, CelMapKey, CelString, CelTimestamp,
    DURATION_TYPE, DYN_TYPE, LIST_TYPE, MAP_TYPE, STRING_TYPE, TIMESTAMP_TYPE,
};
use ::cel::common::value::{CowVal, Val};
use ::cel::{DeclarationError, Env, ExecutionError};
use chrono::{Datelike, Timelike, Utc};

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Returns<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

/// The prefix of the internal getters a timestamp getter without a time zone is rewritten to.
pub(super) const UTC_GETTER_PREFIX: &str = "@utc_";
/// `timeSince(t)`, called with the request's instant as a second argument.
pub(super) const TIME_SINCE_FN: &str = "@timeSince";
/// Pairs `[key, value]` of a map, or `[index, element]` of a list (two-variable comprehensions).
pub(super) const PAIRS_FN: &str = "@pairs";
/// A map with one more entry (`transformMap`).
pub(super) const MAP_INSERT_FN: &str = "@mapInsert";
/// A map with the entries of another, none repeated (`transformMapEntry`).
pub(super) const MAP_MERGE_FN: &str = "@mapMerge";
/// A computed map key: a whole double becomes an int (JSON numbers are doubles, CEL map keys
/// cannot be; Cerbos accepts them and compares them as numbers).
pub(super) const MAP_KEY_FN: &str = "@mapKey";

fn arg<'a, 'b, 'v, T: ::cel::common::value::FromVal<'a, 'v>>(
    args: &'a [CowVal<'b, 'v>],
    index: usize,
    function: &str,
) -> Result<&'a T, ExecutionError> {
    args.get(index)
        .and_then(|a| a.downcast_ref::<T>())
        .ok_or_else(|| ExecutionError::function_error(function, "unexpected argument type"))
}

fn list_items<'a, 'b, 'v>(
    args: &'a [CowVal<'b, 'v>],
    index: usize,
    function: &str,
) -> Result<&'a [Box<dyn Val + 'v>], ExecutionError> {
    Ok(arg::<CelList>(args, index, function)?.inner())
}

fn bool_val<'b, 'v>(b: bool) -> Returns<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(b)))
}

/// Equality as Cerbos's set functions see it: an int never equals a double.
fn same(a: &dyn Val, b: &dyn Val) -> bool {
    a.get_type().kind() == b.get_type().kind() && a.equals(b)
}

fn contains(list: &[Box<dyn Val + '_>], item: &dyn Val) -> bool {
    list.iter().any(|x| same(x.as_ref(), item))
}

fn intersect<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let mut a = list_items(&args, 0, "intersect")?;
    let mut b = list_items(&args, 1, "intersect")?;
    // Cerbos walks the shorter list, keeping its order.
    if a.len() > b.len() {
        std::mem::swap(&mut a, &mut b);
    }
    let items: Vec<Box<dyn Val + 'v>> = a
        .iter()
        .filter(|x| contains(b, x.as_ref()))
        .map(|x| x.clone_as_boxed())
        .collect();
    Ok(CowVal::owned(CelList::from(items)))
}

fn except<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let a = list_items(&args, 0, "except")?;
    let b = list_items(&args, 1, "except")?;
    let items: Vec<Box<dyn Val + 'v>> = a
        .iter()
        .filter(|x| !contains(b, x.as_ref()))
        .map(|x| x.clone_as_boxed())
        .collect();
    Ok(CowVal::owned(CelList::from(items)))
}

fn has_intersection<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let a = list_items(&args, 0, "hasIntersection")?;
    let b = list_items(&args, 1, "hasIntersection")?;
    bool_val(a.iter().any(|x| contains(b, x.as_ref())))
}

fn is_subset<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let a = list_items(&args, 0, "isSubset")?;
    let b = list_items(&args, 1, "isSubset")?;
    bool_val(a.iter().all(|x| contains(b, x.as_ref())))
}

fn sets_equivalent<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let a = list_items(&args, 0, "sets.equivalent")?;
    let b = list_items(&args, 1, "sets.equivalent")?;
    bool_val(a.iter().all(|x| contains(b, x.as_ref())) && b.iter().all(|x| contains(a, x.as_ref())))
}

/// An address and prefix length, as Go's `net.ParseCIDR` reads `addr/len`.
fn parse_cidr(text: &str) -> Result<(IpAddr, u32), ExecutionError> {
    let invalid =
        || ExecutionError::function_error("inIPAddrRange", format!("invalid CIDR address: {text}"));
    let (address, length) = text.split_once('/').ok_or_else(invalid)?;
    let address: IpAddr = address.parse().map_err(|_| invalid())?;
    if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let length: u32 = length.parse().map_err(|_| invalid())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    if length > max {
        return Err(invalid());
    }
    Ok((address, length))
}

fn ip_bits(address: IpAddr) -> (u128, u32) {
    match address {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn in_ip_addr_range<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let address = arg::<CelString>(&args, 0, "inIPAddrRange")?.inner();
    let cidr = arg::<CelString>(&args, 1, "inIPAddrRange")?.inner();
    let ip: IpAddr = address.parse().map_err(|_| {
        ExecutionError::function_error("inIPAddrRange", format!("invalid IP address: {address}"))
    })?;
    let (network, length) = parse_cidr(cidr)?;
    // An IPv4 address written as IPv6 (::ffff:a.b.c.d) is in an IPv4 range, as in Go.
    let ip = match (ip, network) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        _ => ip,
    };
    let ((ip_bits, ip_width), (net_bits, net_width)) = (ip_bits(ip), ip_bits(network));
    if ip_width != net_width {
        return bool_val(false);
    }
    let shift = net_width - length;
    let inside = shift >= 128
        || ip_bits.checked_shr(shift).unwrap_or(0) == net_bits.checked_shr(shift).unwrap_or(0);
    bool_val(inside)
}

fn identity<'b, 'v>(mut args: Args<'b, 'v>) -> Returns<'b, 'v> {
    args.pop()
        .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))
}

fn utc_timestamp(
    args: &[CowVal<'_, '_>],
    function: &str,
) -> Result<chrono::DateTime<Utc>, ExecutionError> {
    Ok(arg::<CelTimestamp>(args, 0, function)?
        .inner()
        .with_timezone(&Utc))
}

fn int_val<'b, 'v>(i: i64) -> Returns<'b, 'v> {
    Ok(CowVal::owned(CelInt::from(i)))
}

macro_rules! utc_getter {
    ($name:ident, $function:literal, |$t:ident| $body:expr) => {
        fn $name<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
            let $t = utc_timestamp(&args, $function)?;
            int_val(i64::from($body))
        }
    };
}

utc_getter!(utc_full_year, "getFullYear", |t| t.year());
utc_getter!(utc_month, "getMonth", |t| t.month0());
utc_getter!(utc_day_of_year, "getDayOfYear", |t| t.ordinal0());
utc_getter!(utc_day_of_month, "getDayOfMonth", |t| t.day0());
utc_getter!(utc_date, "getDate", |t| t.day());
utc_getter!(utc_day_of_week, "getDayOfWeek", |t| t
    .weekday()
    .num_days_from_sunday());
utc_getter!(utc_hours, "getHours", |t| t.hour());
utc_getter!(utc_minutes, "getMinutes", |t| t.minute());
utc_getter!(utc_seconds, "getSeconds", |t| t.second());
utc_getter!(utc_milliseconds, "getMilliseconds", |t| t
    .timestamp_subsec_millis());

macro_rules! duration_getter {
    ($name:ident, $function:literal, |$d:ident| $body:expr) => {
        fn $name<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
            let $d = arg::<CelDuration>(&args, 0, $function)?.inner();
            int_val($body)
        }
    };
}

duration_getter!(duration_hours, "getHours", |d| d.num_hours());
duration_getter!(duration_minutes, "getMinutes", |d| d.num_minutes());
duration_getter!(duration_seconds, "getSeconds", |d| d.num_seconds());
duration_getter!(duration_milliseconds, "getMilliseconds", |d| d
    .num_milliseconds());

fn time_since<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let since = arg::<CelTimestamp>(&args, 0, "timeSince")?.inner();
    let now = arg::<CelTimestamp>(&args, 1, "timeSince")?.inner();
    Ok(CowVal::owned(CelDuration::from(
        now.signed_duration_since(*since),
    )))
}

fn pairs<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let target = args
        .first()
        .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    let pair = |k: Box<dyn Val + 'v>, v: Box<dyn Val + 'v>| -> Box<dyn Val + 'v> {
        Box::new(CelList::from(vec![k, v]))
    };
    let items: Vec<Box<dyn Val + 'v>> = if let Some(list) = target.downcast_ref::<CelList>() {
        list.inner()
            .iter()
            .enumerate()
            .map(|(i, v)| {
                pair(
                    Box::new(CelInt::from(i64::try_from(i).unwrap_or(i64::MAX))),
                    v.clone_as_boxed(),
                )
            })
            .collect()
    } else if let Some(map) = target.downcast_ref::<CelMap>() {
        let mut entries: Vec<_> = map.inner().iter().collect();
        // A map has no order; sorting keeps results repeatable.
        entries.sort_by_key(|(k, _)| *k);
        entries
            .into_iter()
            .map(|(k, v)| pair(k.inner().clone_as_boxed(), v.clone_as_boxed()))
            .collect()
    } else {
        return Err(ExecutionError::function_error(
            "comprehension",
            format!("cannot iterate over {}", target.get_type().name()),
        ));
    };
    Ok(CowVal::owned(CelList::from(items)))
}

fn owned_map<'v>(
    value: &(dyn Val + 'v),
    function: &str,
) -> Result<HashMap<CelMapKey<'v>, Box<dyn Val + 'v>>, ExecutionError> {
    let map = value
        .downcast_ref::<CelMap>()
        .ok_or_else(|| ExecutionError::function_error(function, "expected a map"))?;
    map.inner()
        .iter()
        .map(|(k, v)| {
            Ok((
                CelMapKey::try_from(k.inner().clone_as_boxed())?,
                v.clone_as_boxed(),
            ))
        })
        .collect()
}

fn map_insert<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let [map, key, value] = <[CowVal<'b, 'v>; 3]>::try_from(args)
        .map_err(|args| ExecutionError::invalid_argument_count(3, args.len()))?;
    let mut entries = owned_map(map.as_ref(), "transformMap")?;
    entries.insert(CelMapKey::try_from(key)?, value.into_owned());
    Ok(CowVal::owned(CelMap::from(entries)))
}

fn map_merge<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let [map, more] = <[CowVal<'b, 'v>; 2]>::try_from(args)
        .map_err(|args| ExecutionError::invalid_argument_count(2, args.len()))?;
    let mut entries = owned_map(map.as_ref(), "transformMapEntry")?;
    for (key, value) in owned_map(more.as_ref(), "transformMapEntry")? {
        if entries.contains_key(&key) {
            return Err(ExecutionError::function_error(
                "transformMapEntry",
                "insert failed: key already exists",
            ));
        }
        entries.insert(key, value);
    }
    Ok(CowVal::owned(CelMap::from(entries)))
}

fn map_key<'b, 'v>(mut args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let key = args
        .pop()
        .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    let whole = key
        .downcast_ref::<CelDouble>()
        .map(|d| *d.inner())
        .filter(|d| d.fract() == 0.0 && d.abs() < 9.0e15);
    match whole {
        // Exact: the double is whole and its magnitude below 2^53.
        Some(d) => int_val(d as i64),
        None => Ok(key),
    }
}

/// Declares Cerbos's functions (but hierarchies) and the compiler's internal helpers.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let list_pair = || vec![LIST_TYPE, LIST_TYPE];
    let set_functions: [(&str, Function); 6] = [
        ("intersect", intersect),
        ("except", except),
        ("hasIntersection", has_intersection),
        ("has_intersection", has_intersection),
        ("isSubset", is_subset),
        ("is_subset", is_subset),
    ];
    for (name, function) in set_functions {
        env.add_overload(name, &format!("{name}_list_list"), list_pair(), function)?;
        env.add_member_overload(
            name,
            &format!("list_{name}_list"),
            LIST_TYPE,
            vec![LIST_TYPE],
            function,
        )?;
    }
    env.add_overload(
        "sets.contains",
        "sets_contains",
        list_pair(),
        is_subset_reversed,
    )?;
    env.add_overload(
        "sets.equivalent",
        "sets_equivalent",
        list_pair(),
        sets_equivalent,
    )?;
    env.add_overload(
        "sets.intersects",
        "sets_intersects",
        list_pair(),
        has_intersection,
    )?;
    env.add_member_overload(
        "inIPAddrRange",
        "string_inIPAddrRange_string",
        STRING_TYPE,
        vec![STRING_TYPE],
        in_ip_addr_range,
    )?;
    env.add_overload("id", "id_dyn", vec![DYN_TYPE], identity)?;

    let timestamp_getters: [(&str, Function); 10] = [
        ("getFullYear", utc_full_year),
        ("getMonth", utc_month),
        ("getDayOfYear", utc_day_of_year),
        ("getDayOfMonth", utc_day_of_month),
        ("getDate", utc_date),
        ("getDayOfWeek", utc_day_of_week),
        ("getHours", utc_hours),
        ("getMinutes", utc_minutes),
        ("getSeconds", utc_seconds),
        ("getMilliseconds", utc_milliseconds),
    ];
    for (name, function) in timestamp_getters {
        env.add_member_overload(
            &format!("{UTC_GETTER_PREFIX}{name}"),
            &format!("timestamp_{name}_utc"),
            TIMESTAMP_TYPE,
            vec![],
            function,
        )?;
    }
    let duration_getters: [(&str, Function); 4] = [
        ("getHours", duration_hours),
        ("getMinutes", duration_minutes),
        ("getSeconds", duration_seconds),
        ("getMilliseconds", duration_milliseconds),
    ];
    for (name, function) in duration_getters {
        env.add_member_overload(
            &format!("{UTC_GETTER_PREFIX}{name}"),
            &format!("duration_{name}_utc"),
            DURATION_TYPE,
            vec![],
            function,
        )?;
    }

    env.add_overload(
        TIME_SINCE_FN,
        "timeSince_timestamp",
        vec![TIMESTAMP_TYPE, TIMESTAMP_TYPE],
        time_since,
    )?;
    env.add_overload(PAIRS_FN, "pairs_list", vec![LIST_TYPE], pairs)?;
    env.add_overload(PAIRS_FN, "pairs_map", vec![MAP_TYPE], pairs)?;
    env.add_overload(
        MAP_INSERT_FN,
        "map_insert",
        vec![MAP_TYPE, DYN_TYPE, DYN_TYPE],
        map_insert,
    )?;
    env.add_overload(
        MAP_MERGE_FN,
        "map_merge",
        vec![MAP_TYPE, MAP_TYPE],
        map_merge,
    )?;
    env.add_overload(MAP_KEY_FN, "map_key", vec![DYN_TYPE], map_key)?;
    Ok(())
}

/// `sets.contains(a, b)`: every element of `b` is in `a`.
fn is_subset_reversed<'b, 'v>(mut args: Args<'b, 'v>) -> Returns<'b, 'v> {
    args.reverse();
    is_subset(args)
}
