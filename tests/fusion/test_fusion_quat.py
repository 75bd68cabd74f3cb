"""The quaternion helpers agree with rotation matrices (Hamilton, w x y z, q_AB: B → A)."""

from __future__ import annotations

import numpy as np

from monitor.fusion import quat

RNG = np.random.default_rng(7)
Q = quat.normalize(RNG.standard_normal((200, 4)))
P = quat.normalize(RNG.standard_normal((200, 4)))
V = RNG.standard_normal((200, 3))


def test_rotate_matches_matrix_and_product_composes() -> None:
    np.testing.assert_allclose(quat.rotate(Q, V), np.einsum("nij,nj->ni", quat.to_matrix(Q), V))
    np.testing.assert_allclose(
        quat.to_matrix(quat.multiply(Q, P)), quat.to_matrix(Q) @ quat.to_matrix(P), atol=1e-12
    )
    # Hamilton: i ⊗ j = k.
    np.testing.assert_array_equal(quat.multiply([0, 1, 0, 0], [0, 0, 1, 0]), [0, 0, 0, 1])
    np.testing.assert_allclose(quat.rotate(quat.conjugate(Q), quat.rotate(Q, V)), V, atol=1e-12)


def test_rotvec_is_a_right_handed_rotation() -> None:
    q = quat.from_rotvec([0.0, 0.0, np.pi / 2])  # +90° about z takes x to y
    np.testing.assert_allclose(quat.rotate(q, [1.0, 0, 0]), [0, 1.0, 0], atol=1e-15)
    tiny = quat.from_rotvec(np.array([[1e-12, 0, 0], [0, 0, 0]]))
    np.testing.assert_allclose(tiny, [[1, 5e-13, 0, 0], [1, 0, 0, 0]], atol=1e-20)


def test_propagate_is_product_with_exp() -> None:
    g = RNG.standard_normal((200, 3))
    np.testing.assert_allclose(
        quat.propagate(Q, g, 0.01), quat.multiply(Q, quat.from_rotvec(0.01 * g)), atol=1e-15
    )


def test_up_and_from_gravity() -> None:
    acc = RNG.standard_normal((200, 3)) * 9.81
    acc[0] = [0, 0, -9.81]  # upside down has no unique smallest rotation
    q = quat.from_gravity(acc)
    up = quat.earth_up_in_sensor(q)
    np.testing.assert_allclose(up, acc / np.linalg.norm(acc, axis=1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(quat.rotate(q, up), np.tile([0, 0, 1.0], (200, 1)), atol=1e-12)
    assert quat.angle_between_deg([1.0, 0, 0], [1.0, 1e-9, 0]) < 1e-6
    assert quat.angle_between_deg([1.0, 0, 0], [-1.0, 0, 0]) == 180.0
