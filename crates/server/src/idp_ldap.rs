//! Users and groups read from an LDAP directory (OpenLDAP, Active Directory) as the records a sync
//! applies, laid out as Topaz lays out an identity provider's data: a `user` object per person (the
//! id from `user_id`, `uid` by default; display name; e-mail, DN and groups' DNs as properties), an
//! `identity` object for the id and for the e-mail linked by `user#identifier`, and a `group` object
//! per group whose members are `group#member` relations to users, and to nested groups as the
//! subject set `group#member`. Membership is read from `member` / `uniqueMember` on groups and
//! `memberOf` on users, whichever the directory has. Searches are paged, so server size limits do not
//! cut them short.

use crate::config::LdapSettings;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Users: OpenLDAP's inetOrgPerson and Active Directory's user.
const USER_FILTER: &str = "(|(objectClass=inetOrgPerson)(objectClass=user))";
/// Groups: groupOfNames, groupOfUniqueNames and Active Directory's group.
const GROUP_FILTER: &str =
    "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))";
/// Entries asked for per page.
const PAGE: i32 = 500;

/// A TLS client configuration trusting the CA certificates in a PEM file.
fn tls_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let named = |error: &dyn std::fmt::Display| format!("ldap.ca_cert {}: {error}", ca.display());
    let pem = std::fs::read(ca).map_err(|e| named(&e))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots
            .add(certificate.map_err(|e| named(&e))?)
            .map_err(|e| named(&e))?;
    }
    if roots.is_empty() {
        return Err(named(&"no PEM certificate in the file"));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| named(&e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Reads the directory; answers its users, identities and groups as JSON Lines records.
pub async fn read(settings: &LdapSettings, password: Option<&str>) -> Result<String, String> {
    let failed = |what: &str| {
        let url = settings.url.clone();
        let what = what.to_string();
        move |error: ldap3::LdapError| format!("LDAP {url}: {what}: {error}")
    };
    let mut connection = LdapConnSettings::new()
        .set_conn_timeout(Duration::from_secs(10))
        .set_starttls(settings.starttls);
    if let Some(ca) = &settings.ca_cert {
        connection = connection.set_config(tls_config(ca)?);
    }
    let (driver, mut ldap) = LdapConnAsync::with_settings(connection, &settings.url)
        .await
        .map_err(failed("connecting"))?;
    ldap3::drive!(driver);
    ldap.with_timeout(Duration::from_secs(60));
    if let Some(bind_dn) = &settings.bind_dn {
        ldap.simple_bind(bind_dn, password.unwrap_or(""))
            .await
            .and_then(ldap3::LdapResult::success)
            .map_err(failed(&format!("binding as {bind_dn}")))?;
    }
    let user_id = settings.user_id.as_deref().unwrap_or("uid");
    let users = search(
        &mut ldap,
        &settings.base_dn,
        settings.user_filter.as_deref().unwrap_or(USER_FILTER),
        vec![
            user_id.to_string(),
            "cn".into(),
            "displayName".into(),
            "mail".into(),
            "memberOf".into(),
        ],
    )
    .await
    .map_err(failed("searching users"))?;
    let groups = search(
        &mut ldap,
        &settings.base_dn,
        settings.group_filter.as_deref().unwrap_or(GROUP_FILTER),
        vec!["cn".into(), "member".into(), "uniqueMember".into()],
    )
    .await
    .map_err(failed("searching groups"))?;
    let _ = ldap.unbind().await;
    Ok(records(&users, &groups, user_id))
}

async fn search(
    ldap: &mut ldap3::Ldap,
    base: &str,
    filter: &str,
    attributes: Vec<String>,
) -> ldap3::result::Result<Vec<SearchEntry>> {
    let adapters: Vec<Box<dyn Adapter<String, Vec<String>>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(PAGE)),
    ];
    let mut stream = ldap
        .streaming_search_with(adapters, base, Scope::Subtree, filter, attributes)
        .await?;
    let mut entries = Vec::new();
    while let Some(entry) = stream.next().await? {
        entries.push(SearchEntry::construct(entry));
    }
    stream.finish().await.success()?;
    Ok(entries)
}

/// An attribute's values, whatever case the directory spells its name in.
fn values<'e>(entry: &'e SearchEntry, name: &str) -> &'e [String] {
    entry
        .attrs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map_or(&[], |(_, values)| values.as_slice())
}

fn first<'e>(entry: &'e SearchEntry, name: &str) -> Option<&'e str> {
    values(entry, name).first().map(String::as_str)
}

/// DNs compared as directories compare them: without case or spaces after commas.
fn dn_key(dn: &str) -> String {
    dn.split(',')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase()
}

/// The records of the users and groups found, objects first.
fn records(users: &[SearchEntry], groups: &[SearchEntry], user_id: &str) -> String {
    let mut people: HashMap<String, String> = HashMap::new();
    let mut lines = Vec::new();
    let mut relations = BTreeSet::new();
    for user in users {
        let Some(id) = first(user, user_id) else {
            continue;
        };
        people.insert(dn_key(&user.dn), id.to_string());
        let mail = first(user, "mail");
        let name = first(user, "displayName")
            .or_else(|| first(user, "cn"))
            .unwrap_or(id);
        lines.push(
            json!({"object": {"type": "user", "id": id, "display_name": name,
            "properties": {
                "email": mail.unwrap_or(""), "dn": user.dn, "member_of": values(user, "memberOf"),
            }}}),
        );
        for identity in std::iter::once(id).chain(mail) {
            lines.push(json!({"object": {"type": "identity", "id": identity}}));
            relations.insert((
                "user".to_string(),
                id.to_string(),
                "identifier".to_string(),
                "identity".to_string(),
                identity.to_string(),
                String::new(),
            ));
        }
    }
    let mut named_groups: BTreeMap<String, &SearchEntry> = BTreeMap::new();
    let mut group_ids: HashMap<String, String> = HashMap::new();
    for group in groups {
        if let Some(cn) = first(group, "cn") {
            group_ids.insert(dn_key(&group.dn), cn.to_string());
            named_groups.insert(cn.to_string(), group);
        }
    }
    let mut member = |group: &str, dn: &str| {
        let key = dn_key(dn);
        if let Some(user) = people.get(&key) {
            relations.insert((
                "group".into(),
                group.into(),
                "member".into(),
                "user".into(),
                user.clone(),
                String::new(),
            ));
        } else if let Some(nested) = group_ids.get(&key) {
            relations.insert((
                "group".into(),
                group.into(),
                "member".into(),
                "group".into(),
                nested.clone(),
                "member".into(),
            ));
        }
    };
    for (cn, group) in &named_groups {
        lines.push(json!({"object": {"type": "group", "id": cn, "properties": {"dn": group.dn}}}));
        for dn in values(group, "member")
            .iter()
            .chain(values(group, "uniqueMember"))
        {
            member(cn, dn);
        }
    }
    for user in users {
        for dn in values(user, "memberOf") {
            if let Some(group) = group_ids.get(&dn_key(dn)).cloned() {
                member(&group, &user.dn);
            }
        }
    }
    for (object_type, object_id, relation, subject_type, subject_id, subject_relation) in relations
    {
        lines.push(
            json!({"relation": {"object_type": object_type, "object_id": object_id,
            "relation": relation, "subject_type": subject_type, "subject_id": subject_id,
            "subject_relation": subject_relation}}),
        );
    }
    lines.iter().map(|line| format!("{line}\n")).collect()
}
