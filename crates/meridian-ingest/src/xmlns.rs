//! XML namespaces of feed elements, resolved once per declaration.
//!
//! quick-xml's `NsReader` resolves every element's prefix to its URI, and the
//! feed parser then compared that URI with the ~15 it knows, for every element:
//! together about a sixth of a parse (docs/benchmarks.md). Here each
//! `xmlns` / `xmlns:prefix` declaration is classified into an [`Ns`] once, when
//! it is read, and an element's namespace is a short search of the prefixes in
//! scope. Elements whose attributes do not mention `xmlns` (nearly all of them)
//! declare nothing and are not looked at twice.
//!
//! It follows `NsReader` exactly, errors included: the same scoping (a
//! declaration holds for its element and its descendants; an empty element's
//! for itself only), the same reserved prefixes `xml` and `xmlns`, the same
//! limits (128 user bindings in scope, 65,535 levels), and the same
//! [`NamespaceError`]s, so a document is accepted or refused as before and
//! with the same message.

use quick_xml::events::BytesStart;
use quick_xml::name::{NamespaceError, PrefixDeclaration};

/// Namespaces we read, matched by URI (or, when undeclared, by the usual prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    /// No namespace, or RSS 1.0/0.9's own: the core elements.
    Plain,
    Atom,
    Itunes,
    Podcast,
    Content,
    Dc,
    Media,
    Rdf,
    Other,
}

pub(crate) fn ns_of_uri(uri: &str) -> Ns {
    let u = uri.trim();
    let u = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .unwrap_or(u);
    let u = u.trim_end_matches('/');
    let eq = |s: &str| u.eq_ignore_ascii_case(s);
    if eq("www.w3.org/2005/Atom") || eq("purl.org/atom/ns#") {
        Ns::Atom
    } else if eq("www.itunes.com/dtds/podcast-1.0.dtd") {
        Ns::Itunes
    } else if eq("podcastindex.org/namespace/1.0")
        || eq("github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md")
    {
        Ns::Podcast
    } else if eq("purl.org/rss/1.0/modules/content") {
        Ns::Content
    } else if eq("purl.org/dc/elements/1.1") || eq("purl.org/dc/terms") {
        Ns::Dc
    } else if eq("search.yahoo.com/mrss") {
        Ns::Media
    } else if eq("purl.org/rss/1.0")
        || eq("my.netscape.com/rdf/simple/0.9")
        || eq("backend.userland.com/rss2")
    {
        Ns::Plain
    } else if eq("www.w3.org/1999/02/22-rdf-syntax-ns#") {
        Ns::Rdf
    } else {
        Ns::Other
    }
}

/// Undeclared prefixes are common (`malformed/podcast-person-no-xmlns.rss`):
/// read them by their conventional names.
pub(crate) fn ns_of_prefix(prefix: &str) -> Ns {
    match prefix {
        "itunes" => Ns::Itunes,
        "podcast" => Ns::Podcast,
        "content" => Ns::Content,
        "dc" => Ns::Dc,
        "media" => Ns::Media,
        "atom" | "atom10" => Ns::Atom,
        "rdf" => Ns::Rdf,
        _ => Ns::Other,
    }
}

const XML_URI: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_URI: &str = "http://www.w3.org/2000/xmlns/";
/// quick-xml's `DEFAULT_MAX_NAMESPACE_BINDINGS`.
const MAX_BINDINGS: usize = 128;
/// The two reserved bindings, `xml` and `xmlns`, which do not count.
const RESERVED: usize = 2;

/// One declaration in scope.
#[derive(Debug)]
struct Binding {
    /// Nesting level of the element that declared it.
    level: u16,
    /// `""` for the default namespace.
    prefix: Box<str>,
    /// What an element with this prefix is in: the URI's [`Ns`], or, when the
    /// declaration resets it (`xmlns=""`, `xmlns:p=""`), [`Ns::Plain`] for
    /// the default and the prefix's conventional meaning otherwise (what
    /// `NsReader` calls `Unbound` and `Unknown`).
    ns: Ns,
}

/// The namespace declarations in scope while reading a document.
#[derive(Debug)]
pub(crate) struct Namespaces {
    /// Sorted by level, innermost last.
    bindings: Vec<Binding>,
    level: u16,
}

impl Namespaces {
    pub(crate) fn new() -> Self {
        let reserved = |prefix: &str, uri: &str| Binding {
            level: 0,
            prefix: prefix.into(),
            ns: ns_of_uri(uri),
        };
        Self {
            bindings: vec![reserved("xml", XML_URI), reserved("xmlns", XMLNS_URI)],
            level: 0,
        }
    }

    /// Enters element `e` (start or empty) and adds its declarations.
    ///
    /// # Errors
    /// As `NsReader`: a reserved prefix or URI bound wrongly, too many
    /// bindings, too deep a document.
    pub(crate) fn push(&mut self, e: &BytesStart<'_>) -> Result<(), NamespaceError> {
        self.level = self
            .level
            .checked_add(1)
            .ok_or(NamespaceError::TooDeeplyNested(usize::from(u16::MAX)))?;
        // Every declaration's name starts with `xmlns`: without it in the
        // attributes there is nothing to read.
        if !e.attributes_raw().contains("xmlns") {
            return Ok(());
        }
        for a in e.attributes().with_checks(false) {
            let Ok(a) = a else { break };
            if let Some(prefix) = a.key.as_namespace_binding() {
                self.add(prefix, &a.value)?;
            }
        }
        Ok(())
    }

    fn add(&mut self, prefix: PrefixDeclaration<'_>, uri: &str) -> Result<(), NamespaceError> {
        let prefix = match prefix {
            PrefixDeclaration::Default => "",
            PrefixDeclaration::Named("xml") => {
                if uri != XML_URI {
                    return Err(NamespaceError::InvalidXmlPrefixBind(uri.to_owned()));
                }
                return Ok(());
            }
            PrefixDeclaration::Named("xmlns") => {
                return Err(NamespaceError::InvalidXmlnsPrefixBind(uri.to_owned()));
            }
            PrefixDeclaration::Named(prefix) => {
                if uri == XML_URI {
                    return Err(NamespaceError::InvalidPrefixForXml(prefix.to_owned()));
                } else if uri == XMLNS_URI {
                    return Err(NamespaceError::InvalidPrefixForXmlns(prefix.to_owned()));
                }
                prefix
            }
        };
        if self.bindings.len().saturating_sub(RESERVED) >= MAX_BINDINGS {
            return Err(NamespaceError::TooManyBindings(MAX_BINDINGS));
        }
        let ns = match (uri.is_empty(), prefix.is_empty()) {
            (false, _) => ns_of_uri(uri),
            (true, true) => Ns::Plain,
            (true, false) => ns_of_prefix(prefix),
        };
        self.bindings.push(Binding {
            level: self.level,
            prefix: prefix.into(),
            ns,
        });
        Ok(())
    }

    /// Leaves the innermost element, dropping its declarations.
    pub(crate) fn pop(&mut self) {
        self.level = self.level.saturating_sub(1);
        while self.bindings.last().is_some_and(|b| b.level > self.level) {
            self.bindings.pop();
        }
    }

    /// The namespace of an element whose name has `prefix` (`None`: no `:`).
    pub(crate) fn of_element(&self, prefix: Option<&str>) -> Ns {
        let find = |prefix: &str| self.bindings.iter().rev().find(|b| *b.prefix == *prefix);
        match prefix {
            None => find("").map_or(Ns::Plain, |b| b.ns),
            // `<:x>`: an empty prefix never matches a declaration, not even
            // `xmlns:=""` (which acts as a default namespace).
            Some("") => ns_of_prefix(""),
            Some(prefix) => find(prefix).map_or_else(|| ns_of_prefix(prefix), |b| b.ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use quick_xml::NsReader;
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;

    use super::*;

    /// Every start/empty element's namespace as quick-xml's `NsReader` gives
    /// it (through the same classification), or the error it stops with.
    fn by_nsreader(xml: &str) -> Vec<Result<Ns, String>> {
        let mut reader = NsReader::from_str(xml);
        reader.config_mut().expand_empty_elements = false;
        let mut out = Vec::new();
        loop {
            match reader.read_resolved_event() {
                Ok((res, Event::Start(_) | Event::Empty(_))) => out.push(Ok(match res {
                    ResolveResult::Bound(n) => ns_of_uri(n.as_ref()),
                    ResolveResult::Unbound => Ns::Plain,
                    ResolveResult::Unknown(p) => ns_of_prefix(&p),
                })),
                Ok((_, Event::Eof)) => return out,
                Ok(_) => {}
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }

    fn by_namespaces(xml: &str) -> Vec<Result<Ns, String>> {
        let mut reader = quick_xml::Reader::from_str(xml);
        reader.config_mut().expand_empty_elements = false;
        let mut ns = Namespaces::new();
        let mut out = Vec::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => match ns.push(&e) {
                    Ok(()) => {
                        out.push(Ok(ns.of_element(e.name().prefix().map(|p| p.into_inner()))))
                    }
                    Err(err) => {
                        out.push(Err(quick_xml::Error::Namespace(err).to_string()));
                        return out;
                    }
                },
                Ok(Event::Empty(e)) => match ns.push(&e) {
                    Ok(()) => {
                        out.push(Ok(ns.of_element(e.name().prefix().map(|p| p.into_inner()))));
                        ns.pop();
                    }
                    Err(err) => {
                        out.push(Err(quick_xml::Error::Namespace(err).to_string()));
                        return out;
                    }
                },
                Ok(Event::End(_)) => ns.pop(),
                Ok(Event::Eof) => return out,
                Ok(_) => {}
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }

    #[test]
    fn same_namespaces_and_errors_as_nsreader() {
        let cases = [
            r#"<rss xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><itunes:author/>
               <podcast:person/><item xmlns:podcast="https://podcastindex.org/namespace/1.0/">
               <podcast:person/></item><podcast:person/></channel></rss>"#,
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><title/><x xmlns=""><y/></x><z/>
               <content><div xmlns="http://www.w3.org/1999/xhtml"><p/></div></content></entry></feed>"#,
            r#"<rss><channel xmlns:itunes="urn:other"><itunes:image/><i xmlns:itunes=""><itunes:image/></i>
               <itunes:image xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"/><itunes:image/>
               <xml:lang/><xmlns:x/><a:b:c/><:x/></channel></rss>"#,
            r#"<rss xmlns:xml="http://www.w3.org/XML/1998/namespace"><channel/></rss>"#,
            r#"<rss xmlns:xml="urn:wrong"><channel/></rss>"#,
            r#"<rss><channel><x xmlns:xmlns="urn:x"/></channel></rss>"#,
            r#"<rss><channel><x xmlns:a="http://www.w3.org/XML/1998/namespace"/></channel></rss>"#,
            r#"<rss><channel><x xmlns:a="http://www.w3.org/2000/xmlns/"/></channel></rss>"#,
            r#"<rss><channel><x xmlns="http://www.w3.org/2000/xmlns/"/><xmlns-ish/></channel></rss>"#,
            r#"<rss data-xmlns="1" xmlnsfoo="x"><channel a="xmlns" xmlns:content='http://purl.org/rss/1.0/modules/content/'
               bad attr xmlns:dc="http://purl.org/dc/elements/1.1/"><content:encoded/><dc:date/></channel></rss>"#,
            r#"<rss><channel xmlns:a="urn:a" xmlns:a="http://search.yahoo.com/mrss/"><a:content/></channel></rss>"#,
            r#"<rss><channel xmlns:="http://purl.org/rss/1.0/"><item/><:item/><x xmlns:=""><item/></x></channel></rss>"#,
            r#"<rss><channel xmlns:="http://www.w3.org/2000/xmlns/"/></rss>"#,
            r#"<rss xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><itunes:a></itunes:a><itunes:b/></channel><itunes:c/></rss><itunes:d/>"#,
        ];
        for xml in cases {
            assert_eq!(by_namespaces(xml), by_nsreader(xml), "{xml}");
        }
        let many: String = (0..130)
            .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
            .collect();
        let xml = format!("<rss{many}><channel/></rss>");
        assert_eq!(by_namespaces(&xml), by_nsreader(&xml));
        assert!(matches!(by_namespaces(&xml).last(), Some(Err(_))));
        let nested = format!(
            "<rss>{}{}</rss>",
            "<x xmlns:a='urn:a'>".repeat(70),
            "</x>".repeat(70)
        );
        assert_eq!(by_namespaces(&nested), by_nsreader(&nested));
        let deep = "<a>".repeat(usize::from(u16::MAX) + 1);
        assert_eq!(by_namespaces(&deep), by_nsreader(&deep));
        assert!(matches!(by_namespaces(&deep).last(), Some(Err(_))));
    }
}
