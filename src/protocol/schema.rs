//! Schemas as the provider declares them, and the object type each implies.
//!
//! Resources describe their attributes and nested blocks with these types; the
//! gRPC server converts them to `tfplugin6.Schema`. Nested configuration is
//! always a nested block, never a nested attribute, because Terraform 1.0.3
//! crashes on several nested-attribute shapes.

use std::collections::BTreeMap;

use super::value::Type;

/// The schema of a provider configuration, resource or data source.
#[derive(Clone, Debug)]
pub struct Schema {
    /// Bumped whenever the stored state changes shape; Terraform then calls
    /// `UpgradeResourceState` with the old version.
    pub version: i64,
    pub block: Block,
}

/// A set of attributes and nested blocks with a description.
#[derive(Clone, Debug, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    /// Markdown shown by documentation tools.
    pub description: String,
    pub deprecated: bool,
}

/// One attribute of a block.
#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
}

/// How many times a nested block may appear, and how its instances are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one instance, held as an object (null when absent).
    Single,
    List,
    Set,
}

/// A block nested inside another, such as `assume_role { ... }`.
#[derive(Clone, Debug)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
}

impl Attribute {
    fn new(name: &str, ty: Type, description: &str) -> Attribute {
        Attribute {
            name: name.to_string(),
            ty,
            description: description.to_string(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
        }
    }

    /// An attribute the configuration must set.
    pub fn required(name: &str, ty: Type, description: &str) -> Attribute {
        Attribute {
            required: true,
            ..Attribute::new(name, ty, description)
        }
    }

    /// An attribute the configuration may set and the provider never fills.
    pub fn optional(name: &str, ty: Type, description: &str) -> Attribute {
        Attribute {
            optional: true,
            ..Attribute::new(name, ty, description)
        }
    }

    /// An attribute the configuration may set; when it does not, the provider
    /// fills it (a default, or a value AWS chooses).
    pub fn optional_computed(name: &str, ty: Type, description: &str) -> Attribute {
        Attribute {
            optional: true,
            computed: true,
            ..Attribute::new(name, ty, description)
        }
    }

    /// An attribute only the provider sets.
    pub fn computed(name: &str, ty: Type, description: &str) -> Attribute {
        Attribute {
            computed: true,
            ..Attribute::new(name, ty, description)
        }
    }

    pub fn sensitive(self) -> Attribute {
        Attribute {
            sensitive: true,
            ..self
        }
    }
}

impl NestedBlock {
    /// A block that may appear at most once.
    pub fn single(type_name: &str, block: Block) -> NestedBlock {
        NestedBlock {
            type_name: type_name.to_string(),
            block,
            nesting: Nesting::Single,
            min_items: 0,
            max_items: 0,
        }
    }
}

impl Block {
    /// The object type of this block's values: attributes by their own type,
    /// nested blocks as an object, list or set of their block's object type.
    pub fn value_type(&self) -> Type {
        let mut attributes = BTreeMap::new();
        for attribute in &self.attributes {
            attributes.insert(attribute.name.clone(), attribute.ty.clone());
        }
        for nested in &self.blocks {
            let object = nested.block.value_type();
            let ty = match nested.nesting {
                Nesting::Single => object,
                Nesting::List => Type::list(object),
                Nesting::Set => Type::set(object),
            };
            attributes.insert(nested.type_name.clone(), ty);
        }
        Type::Object(attributes)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

impl Schema {
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}
