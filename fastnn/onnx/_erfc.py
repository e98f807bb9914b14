"""erfc in float64 out of elementary ONNX ops, for gelu in a float64 graph: ONNX's Erf
takes doubles, but onnxruntime implements it for float32 only.

For z >= 0, with t = 2 / (2 + z) in (0, 1] and y = 2t - 1 in (-1, 1],

    erfc(z) = t * exp(-z^2 + P(y)),

P a smooth function whose Chebyshev series is cut after 31 terms (the next ones are
below 1e-19; the form is that of Numerical Recipes' erfc, 3rd ed., section 6.2.2). z^2
is taken as hi^2 + lo (hi + z), hi = z rounded to float32 (so hi^2 is exact) and
lo = z - hi, so that the exponential keeps full relative accuracy for large z: the
result is within 1e-15 relative of math.erfc over [0, 27] (tests/test_onnx_export.py).

COEFFICIENTS were computed with mpmath at 40 digits, at the 64 Chebyshev nodes y_j:

    P(y) = log(erfc(z) / t) + z^2,   t = (y + 1) / 2,   z = 2 / t - 2
    c_k = (2 / 64) sum_j P(y_j) cos(k theta_j)  (c_0 halved),  y_j = cos(theta_j)
"""

# Chebyshev coefficients c_0 ... c_30 of P(y)
COEFFICIENTS = (
    -0.6513268598908547, 0.6419697923564902, 0.019476473204185836,
    -0.009561514786808632, -0.0009465953444820369, 0.00036683949785276145,
    4.252332480690777e-05, -2.0278578112534242e-05, -1.6242900046470256e-06,
    1.3036558355805232e-06, 1.5626441722066142e-08, -8.523809591492654e-08,
    6.5290544390988515e-09, 5.059343495551469e-09, -9.91364156493033e-10,
    -2.273651222931836e-10, 9.646791102015527e-11, 2.3940380830391146e-12,
    -6.886027526497553e-12, 8.944879273090725e-13, 3.130921399342958e-13,
    -1.1270822361367252e-13, 3.810905255189232e-16, 7.106097613609237e-15,
    -1.5230282014571043e-15, -9.457494571291233e-17, 1.210237189224279e-16,
    -2.816663087747177e-17, 5.003005559445905e-20, 2.3281042579529253e-18,
    -8.446077682509006e-19,
)
# erfc(z) is 0 in float64 from z = 27.3 on; beyond this the float32 split overflows
_Z_MAX = 30.0
_FLOAT, _DOUBLE = 1, 11   # TensorProto.DataType codes for Cast


def _chebyshev(g, y):
    """sum_k c_k T_k(y) by Clenshaw's recurrence."""
    y2 = g.node("Mul", [y, g.const(2)])
    b1, b2 = g.const(COEFFICIENTS[-1]), None
    for c in COEFFICIENTS[-2:0:-1]:
        step = g.node("Mul", [y2, b1])
        if b2 is not None:
            step = g.node("Sub", [step, b2])
        b1, b2 = g.node("Add", [step, g.const(c)]), b1
    return g.node("Add", [g.node("Sub", [g.node("Mul", [y, b1]), b2]),
                          g.const(COEFFICIENTS[0])])


def erfc_nonnegative(g, z):
    """The nodes of erfc(z) for a float64 tensor z >= 0; returns the output's name."""
    z = g.node("Min", [z, g.const(_Z_MAX)])
    t = g.node("Div", [g.const(2), g.node("Add", [z, g.const(2)])])
    p = _chebyshev(g, g.node("Sub", [g.node("Mul", [t, g.const(2)]), g.const(1)]))
    hi = g.node("Cast", [g.node("Cast", [z], [("to", _FLOAT)])], [("to", _DOUBLE)])
    lo = g.node("Sub", [z, hi])
    head = g.node("Exp", [g.node("Neg", [g.node("Mul", [hi, hi])])])
    tail = g.node("Exp", [g.node("Sub", [p, g.node("Mul", [lo, g.node("Add", [hi, z])])])])
    return g.node("Mul", [g.node("Mul", [t, head]), tail])


def erfc(g, v):
    """The nodes of erfc(v) for a float64 tensor v: 2 - erfc(-v) where v < 0, which
    keeps the relative accuracy of both tails."""
    e = erfc_nonnegative(g, g.node("Abs", [v]))
    return g.node("Where", [g.node("Less", [v, g.const(0)]),
                            g.node("Sub", [g.const(2), e]), e])
