//! Tenants: each has its own store (directory) and policies. The default tenant lives at the data
//! directory's root, others under `tenants/<id>`.

use crate::config::Config;
use crate::ServerError;
use arc_swap::ArcSwapOption;
use lictor_policy::PolicySet;
use lictor_store::{Store, StoreLocation};
use std::collections::HashMap;
use std::sync::Arc;

/// One tenant's state.
pub struct Tenant {
    /// The id; empty for the default tenant.
    pub id: String,
    /// Its directory.
    pub store: Store,
    /// Its policies, swapped whole on reload; none until loaded.
    pub policies: ArcSwapOption<PolicySet>,
    /// The central Lictor whose directory this one copies (an edge replica), which refuses writes.
    pub follows: Option<String>,
}

/// Every tenant, by id.
pub struct Tenants {
    default: Arc<Tenant>,
    others: HashMap<String, Arc<Tenant>>,
}

impl Tenants {
    /// Opens (creating when new) every configured tenant's store.
    pub fn open(config: &Config) -> Result<Tenants, ServerError> {
        let default = Arc::new(Tenant {
            id: String::new(),
            store: match &config.store {
                Some(location) => Store::open_at(&StoreLocation::parse(location))?,
                None => Store::open(&config.data_dir)?,
            },
            policies: ArcSwapOption::empty(),
            follows: config.follow.as_ref().map(|f| f.url.clone()),
        });
        let mut others = HashMap::new();
        for tenant in &config.tenants {
            let dir = config.data_dir.join("tenants").join(&tenant.id);
            others.insert(
                tenant.id.clone(),
                Arc::new(Tenant {
                    id: tenant.id.clone(),
                    store: Store::open(&dir)?,
                    policies: ArcSwapOption::empty(),
                    follows: None,
                }),
            );
        }
        Ok(Tenants { default, others })
    }

    /// The tenant of requests that name none.
    pub fn default_tenant(&self) -> Arc<Tenant> {
        self.default.clone()
    }

    /// A named tenant.
    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.others.get(id).cloned()
    }

    /// Every tenant, the default first.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        std::iter::once(&self.default).chain(self.others.values())
    }
}
