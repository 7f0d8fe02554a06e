//! The parsed expression: the subset of Python's `ast` that simpleeval evaluates and tap-airbyte
//! supports.
use super::value::Py;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A literal (numbers, strings, `True`, `False`, `None`).
    Const(Py),
    Name(String),
    /// An f-string: literal text and `{expression}` parts (each formatted with `str()`).
    FString(Vec<FPart>),
    List(Vec<Elt>),
    Tuple(Vec<Node>),
    Set(Vec<Node>),
    /// `{k: v, **d}`: `None` as key is a `**` spread.
    Dict(Vec<(Option<Node>, Node)>),
    Unary(UnOp, Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Compare(Box<Node>, Vec<(CmpOp, Node)>),
    IfExp(Box<Node>, Box<Node>, Box<Node>),
    Call {
        func: Box<Node>,
        args: Vec<Node>,
        kwargs: Vec<(String, Node)>,
    },
    Attr(Box<Node>, String),
    Subscript(Box<Node>, Box<Index>),
    /// A list comprehension or generator expression (simpleeval makes both a list), or a dict
    /// comprehension (`value` set).
    Comp {
        elt: Box<Node>,
        value: Option<Box<Node>>,
        generators: Vec<Generator>,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum FPart {
    Text(String),
    Value(Node),
}

/// A list element: `x` or `*x`.
#[derive(Debug, Clone)]
pub(crate) enum Elt {
    One(Node),
    Spread(Node),
}

#[derive(Debug, Clone)]
pub(crate) enum Index {
    Item(Node),
    Slice(Option<Node>, Option<Node>, Option<Node>),
}

#[derive(Debug, Clone)]
pub(crate) struct Generator {
    pub(crate) target: Target,
    pub(crate) iter: Node,
    pub(crate) ifs: Vec<Node>,
}

/// A comprehension's `for` target: a name or a (nested) tuple of names.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Name(String),
    Tuple(Vec<Target>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum UnOp {
    Neg,
    Pos,
    Not,
    Invert,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    LShift,
    RShift,
    BitAnd,
    BitOr,
    BitXor,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "** or pow()",
            BinOp::LShift => "<<",
            BinOp::RShift => ">>",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtE,
    Gt,
    GtE,
    In,
    NotIn,
    Is,
    IsNot,
}
