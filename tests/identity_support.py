"""The payroll policy the identity end-to-end tests share: unknown users may send no resident
ID, the payroll group may send them to the payroll partner, nobody else may. Each test module
appends its own ``identity:`` methods.

    POLICY = payroll_policy() + "  methods: [header]\n  header: {...}\n"
"""

from __future__ import annotations


def payroll_policy(partner_host: str = "localhost") -> str:
    """The policy up to and including the ``identity:`` line."""
    return f"""
version: 1
mode: enforce
destinations:
  payroll-partner: {{hosts: [{partner_host}]}}
sources:
  payroll: {{groups: [payroll]}}
rules:
  - name: block-unknown-users
    description: customer data from unknown users never leaves
    action: block
    source: [unauthenticated]
    data: {{entities: [CN_RESIDENT_ID]}}
  - name: allow-payroll-ids
    description: the payroll team may send resident IDs to the payroll partner
    action: allow
    source: [payroll]
    destination: [payroll-partner]
  - name: block-ids
    description: resident IDs never leave
    action: block
    data: {{entities: [CN_RESIDENT_ID]}}
default_action: allow
identity:
"""
