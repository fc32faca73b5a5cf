"""A DQN Q-network: greedy action selection and one temporal-difference (TD) gradient step.

Teaches: a Q-network maps a state (8 numbers) to one value per action (2 here) through two
hidden layers of 64 ReLU units; the greedy action is the argmax; the TD target
r + γ·max_a' Q_target(s', a') is a constant (computed under no_grad, with a frozen copy of the
network), and one gradient step on ½(Q(s, a) − target)² moves Q(s, a) towards it.

    python examples/dqn_qnetwork.py
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn, optim


def main(gamma: float = 0.99, lr: float = 0.01) -> tuple[float, float]:
    tg.manual_seed(0)
    q_net = nn.MLP([8, 64, 64, 2])  # Linear(8→64) → ReLU → Linear(64→64) → ReLU → Linear(64→2)
    target_net = nn.MLP([8, 64, 64, 2])
    target_net.load_state_dict(q_net.state_dict())  # a frozen copy, refreshed now and then in DQN
    opt = optim.SGD(q_net.parameters(), lr=lr)

    # A made-up transition (s, a, r, s', done).
    rng = np.random.default_rng(0)
    state = tg.Tensor(rng.standard_normal(8).astype(np.float32))
    next_state = tg.Tensor(rng.standard_normal(8).astype(np.float32))
    reward, done = 1.0, False

    with tg.no_grad():
        q_values = q_net(state)
    action = int(q_values.argmax().item())  # greedy: the action with the largest Q-value
    print(f"Q(s, ·) = {q_values.numpy().round(4)}, greedy action {action}")

    with tg.no_grad():  # the target is a constant: no gradient flows into it
        target = reward + (0.0 if done else gamma * target_net(next_state).max().item())

    def td_error() -> tg.Tensor:
        return q_net(state)[action] - target

    before = td_error()
    loss = 0.5 * before**2
    opt.zero_grad()
    loss.backward()
    opt.step()
    with tg.no_grad():
        after = td_error()
    print(f"TD target {target:.4f}; TD error {before.item():+.4f} before the step, {after.item():+.4f} after")
    assert abs(after.item()) < abs(before.item())  # one step moved Q(s, a) towards the target
    return before.item(), after.item()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Accepted like in the other examples; one transition through an 8→64→64→2 network is small already.
    parser.add_argument("--small", action="store_true", help="no effect: this example is small already")
    parser.parse_args()
    main()
