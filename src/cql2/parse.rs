//! A recursive-descent parser for CQL2-text, bounded: at most [`MAX_DEPTH`] levels of nesting
//! (parentheses, `NOT`, WKT coordinate lists) and [`MAX_TOKENS`] tokens, so no client text can
//! exhaust the stack or the memory.

use super::{CmpOp, Coords, Expr, Geometry, Literal, ParseError};

/// Deepest nesting of parentheses, `NOT`s and WKT coordinate lists taken (a MULTIPOLYGON needs 3;
/// QGIS sends at most a handful of parentheses).
pub const MAX_DEPTH: usize = 64;
/// Most tokens in one expression.
pub const MAX_TOKENS: usize = 20_000;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Str(String),
    Num(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |m: &str, p: usize| ParseError {
        message: m.to_string(),
        position: p,
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err("unterminated quoted text", start)),
                        Some(&q) if q == quote && chars.get(i + 1) == Some(&quote) => {
                            s.push(quote);
                            i += 2;
                        }
                        Some(&q) if q == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                if quote == '\'' {
                    Tok::Str(s)
                } else {
                    Tok::Quoted(s)
                }
            }
            '=' => {
                i += 1;
                Tok::Op("=")
            }
            '<' | '>' => {
                let next = chars.get(i + 1).copied();
                i += 1;
                match (c, next) {
                    ('<', Some('=')) => {
                        i += 1;
                        Tok::Op("<=")
                    }
                    ('<', Some('>')) => {
                        i += 1;
                        Tok::Op("<>")
                    }
                    ('>', Some('=')) => {
                        i += 1;
                        Tok::Op(">=")
                    }
                    ('<', _) => Tok::Op("<"),
                    _ => Tok::Op(">"),
                }
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|n| n.is_ascii_digit() || *n == '.')) =>
            {
                let mut s = String::new();
                s.push(c);
                i += 1;
                while let Some(&d) = chars.get(i) {
                    let exp_sign =
                        (d == '-' || d == '+') && matches!(s.chars().last(), Some('e' | 'E'));
                    if d.is_ascii_digit() || d == '.' || d == 'e' || d == 'E' || exp_sign {
                        s.push(d);
                        i += 1;
                    } else {
                        break;
                    }
                }
                if s.parse::<f64>().is_err() {
                    return Err(err(&format!("{s:?} is not a number"), start));
                }
                Tok::Num(s)
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut s = String::new();
                while let Some(&d) = chars.get(i) {
                    if d.is_alphanumeric() || matches!(d, '_' | '.' | ':' | '-') {
                        s.push(d);
                        i += 1;
                    } else {
                        break;
                    }
                }
                Tok::Ident(s)
            }
            other => return Err(err(&format!("unexpected character {other:?}"), start)),
        };
        out.push((tok, start));
        if out.len() > MAX_TOKENS {
            return Err(err(
                &format!("the filter has more than {MAX_TOKENS} tokens"),
                start,
            ));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |t| t.1)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            message: message.into(),
            position: self.pos(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.0)
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let yes = self.keyword(word);
        if yes {
            self.at += 1;
        }
        yes
    }

    /// Runs `inner` one nesting level deeper, refusing past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            return self.err(format!("the filter nests deeper than {MAX_DEPTH} levels"));
        }
        self.depth += 1;
        let out = inner(self);
        self.depth -= 1;
        out
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ParseError> {
        if self.peek() == Some(&tok) {
            self.at += 1;
            Ok(())
        } else {
            self.err(format!("expected {what}"))
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and()?];
        while self.eat_keyword("OR") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.not()?];
        while self.eat_keyword("AND") {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.eat_keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.nested(Self::not)?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some(Tok::LParen) => {
                self.at += 1;
                let e = self.nested(Self::or)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            Some(Tok::Ident(w))
                if w.eq_ignore_ascii_case("TRUE") || w.eq_ignore_ascii_case("FALSE") =>
            {
                let v = w.eq_ignore_ascii_case("TRUE");
                self.at += 1;
                Ok(Expr::Bool(v))
            }
            Some(Tok::Ident(w))
                if (w.eq_ignore_ascii_case("S_INTERSECTS")
                    || w.eq_ignore_ascii_case("INTERSECTS"))
                    && self.followed_by_paren() =>
            {
                self.at += 1;
                self.expect(Tok::LParen, "'(' after S_INTERSECTS")?;
                let property = self.property()?;
                self.expect(Tok::Comma, "',' between the property and the geometry")?;
                let geometry = self.geometry()?;
                self.expect(Tok::RParen, "')' closing S_INTERSECTS")?;
                Ok(Expr::Intersects { property, geometry })
            }
            Some(Tok::Ident(w)) if self.followed_by_paren() => self.err(format!(
                "the function {w} is not supported (spatial predicates: S_INTERSECTS only)"
            )),
            _ => self.predicate(),
        }
    }

    fn followed_by_paren(&self) -> bool {
        matches!(self.toks.get(self.at + 1), Some((Tok::LParen, _)))
    }

    fn property(&mut self) -> Result<String, ParseError> {
        match self.peek().cloned() {
            Some(Tok::Ident(w)) | Some(Tok::Quoted(w)) => {
                self.at += 1;
                Ok(w)
            }
            _ => self.err("expected a property name"),
        }
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.at += 1;
                Ok(Literal::Str(s))
            }
            Some(Tok::Num(n)) => {
                self.at += 1;
                Ok(Literal::Num(n))
            }
            Some(Tok::Ident(w))
                if w.eq_ignore_ascii_case("TRUE") || w.eq_ignore_ascii_case("FALSE") =>
            {
                self.at += 1;
                Ok(Literal::Bool(w.eq_ignore_ascii_case("TRUE")))
            }
            Some(Tok::Ident(w))
                if w.eq_ignore_ascii_case("DATE") || w.eq_ignore_ascii_case("TIMESTAMP") =>
            {
                self.at += 1;
                self.expect(Tok::LParen, "'(' after DATE/TIMESTAMP")?;
                let Some(Tok::Str(s)) = self.peek().cloned() else {
                    return self.err("expected a quoted date");
                };
                self.at += 1;
                self.expect(Tok::RParen, "')'")?;
                Ok(Literal::Instant(s))
            }
            _ => self.err("expected a value: 'text', a number, TRUE/FALSE or DATE('…')"),
        }
    }

    fn predicate(&mut self) -> Result<Expr, ParseError> {
        let property = self.property()?;
        if let Some(Tok::Op(op)) = self.peek().cloned() {
            self.at += 1;
            let op = match op {
                "=" => CmpOp::Eq,
                "<>" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                _ => CmpOp::Ge,
            };
            let value = self.literal()?;
            return Ok(Expr::Compare {
                property,
                op,
                value,
            });
        }
        if self.eat_keyword("IS") {
            let negated = self.eat_keyword("NOT");
            if !self.eat_keyword("NULL") {
                return self.err("expected NULL after IS");
            }
            return Ok(Expr::IsNull { property, negated });
        }
        let negated = self.eat_keyword("NOT");
        if self.eat_keyword("LIKE") {
            let Some(Tok::Str(pattern)) = self.peek().cloned() else {
                return self.err("expected a quoted pattern after LIKE");
            };
            self.at += 1;
            return Ok(Expr::Like {
                property,
                pattern,
                negated,
            });
        }
        if self.eat_keyword("IN") {
            self.expect(Tok::LParen, "'(' after IN")?;
            let mut values = vec![self.literal()?];
            while self.peek() == Some(&Tok::Comma) {
                self.at += 1;
                values.push(self.literal()?);
            }
            self.expect(Tok::RParen, "')' closing IN")?;
            return Ok(Expr::In {
                property,
                values,
                negated,
            });
        }
        if self.eat_keyword("BETWEEN") {
            let low = self.literal()?;
            if !self.eat_keyword("AND") {
                return self.err("expected AND in BETWEEN");
            }
            let high = self.literal()?;
            return Ok(Expr::Between {
                property,
                low,
                high,
                negated,
            });
        }
        self.err("expected an operator (=, <>, <, <=, >, >=, LIKE, IN, BETWEEN, IS NULL)")
    }

    fn number(&mut self) -> Result<f64, ParseError> {
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.at += 1;
                n.parse().or_else(|_| self.err("expected a number"))
            }
            _ => self.err("expected a coordinate"),
        }
    }

    /// `x y` pairs, or parenthesised lists of them, nested.
    fn coords(&mut self) -> Result<Coords, ParseError> {
        if self.peek() == Some(&Tok::LParen) {
            self.at += 1;
            let mut items = vec![self.nested(Self::coords)?];
            while self.peek() == Some(&Tok::Comma) {
                self.at += 1;
                items.push(self.nested(Self::coords)?);
            }
            self.expect(Tok::RParen, "')' in the geometry")?;
            return Ok(Coords::List(items));
        }
        let x = self.number()?;
        let y = self.number()?;
        if matches!(self.peek(), Some(Tok::Num(_))) {
            return self.err("3D coordinates are not supported");
        }
        Ok(Coords::Point(x, y))
    }

    fn geometry(&mut self) -> Result<Geometry, ParseError> {
        let Some(Tok::Ident(kind)) = self.peek().cloned() else {
            return self.err("expected a geometry: BBOX(…) or WKT");
        };
        let upper = kind.to_ascii_uppercase();
        self.at += 1;
        if upper == "BBOX" {
            self.expect(Tok::LParen, "'(' after BBOX")?;
            let mut v = vec![self.number()?];
            while self.peek() == Some(&Tok::Comma) {
                self.at += 1;
                v.push(self.number()?);
            }
            self.expect(Tok::RParen, "')' closing BBOX")?;
            return match v.as_slice() {
                [w, s, e, n] => Ok(Geometry::Bbox([*w, *s, *e, *n])),
                [w, s, _, e, n, _] => Ok(Geometry::Bbox([*w, *s, *e, *n])),
                _ => self.err("BBOX takes 4 or 6 numbers"),
            };
        }
        const WKT: [&str; 6] = [
            "POINT",
            "LINESTRING",
            "POLYGON",
            "MULTIPOINT",
            "MULTILINESTRING",
            "MULTIPOLYGON",
        ];
        if !WKT.contains(&upper.as_str()) {
            self.at -= 1;
            return self.err(format!(
                "{kind} is not a supported geometry (BBOX, {})",
                WKT.join(", ")
            ));
        }
        if self.peek() != Some(&Tok::LParen) {
            return self.err("expected '(' after the geometry type");
        }
        Ok(Geometry::Wkt(upper, self.coords()?))
    }
}

/// Parses a CQL2-text expression.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let toks = lex(text)?;
    if toks.is_empty() {
        return Err(ParseError {
            message: "the filter is empty".into(),
            position: 0,
        });
    }
    let mut p = Parser {
        toks,
        at: 0,
        end: text.chars().count(),
        depth: 0,
    };
    let e = p.or()?;
    if p.at < p.toks.len() {
        return p.err("unexpected text after the end of the expression");
    }
    Ok(e)
}

/// Parses one WKT geometry (2D), with the same bounds as a filter's.
pub fn parse_wkt(text: &str) -> Result<Geometry, ParseError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        at: 0,
        end: text.chars().count(),
        depth: 0,
    };
    let g = p.geometry()?;
    if p.at < p.toks.len() {
        return p.err("unexpected text after the end of the geometry");
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Parses on a thread with a small stack: a parser whose recursion is not bounded overflows it.
    fn parse_on_small_stack(text: String) -> Result<Expr, ParseError> {
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || parse(&text))
            .expect("a thread")
            .join()
            .expect("the parser did not overflow its stack")
    }

    #[test]
    fn nesting_is_bounded_and_named() {
        let deep = format!("{}a = 1{}", "(".repeat(5000), ")".repeat(5000));
        let e = parse_on_small_stack(deep).unwrap_err();
        assert!(e.message.contains("nests deeper than 64"), "{e}");
        let nots = format!("{}a = 1", "NOT ".repeat(5000));
        assert!(parse_on_small_stack(nots).is_err());
        let wkt = format!(
            "S_INTERSECTS(g, POLYGON{}1 2{})",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert!(parse_on_small_stack(wkt).is_err());
        // What people write still parses.
        let fine = format!("{}a = 1{}", "(".repeat(20), ")".repeat(20));
        assert!(parse(&fine).is_ok());
        assert!(parse("S_INTERSECTS(g, MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0))))").is_ok());
    }

    #[test]
    fn token_count_is_bounded() {
        let long = vec!["a = 1"; MAX_TOKENS].join(" OR ");
        assert!(parse_on_small_stack(long)
            .unwrap_err()
            .message
            .contains("tokens"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Deep and long inputs of every nesting form end in an answer, never a crash.
        #[test]
        fn deep_inputs_never_overflow(
            depth in 0usize..20_000,
            opener in prop::sample::select(vec!["(", "NOT ", "NOT (", "S_INTERSECTS(g, POLYGON(", "a IN ("]),
            closer in prop::sample::select(vec![")", "", "1 2)"]),
        ) {
            let text = format!("{}a = 1{}", opener.repeat(depth), closer.repeat(depth));
            let _ = parse_on_small_stack(text);
        }
    }
}
