# community.docker.nsenter with pipelining, for the role's end-to-end test only.
#
# The collection's plugin already hands in_data to the command it starts, which is all pipelining
# needs, but it declares has_pipelining = False. Without pipelining every module costs a temp dir,
# a file copy, a chmod and the run: four nsenter round trips instead of one, and most of the
# Ansible stage's time. Boards are reached over ssh, which pipelines; this keeps the test close to
# that while changing nothing about what runs on the node.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
name: nsenter_pipelined
short_description: community.docker.nsenter with pipelining enabled
description:
  - Runs commands in the namespaces of a process, like community.docker.nsenter, and feeds modules
    over stdin when pipelining is on.
author: riscv-runner-node
options:
  nsenter_pid:
    description: PID whose namespaces the commands enter.
    type: int
    default: 1
    vars:
      - name: ansible_nsenter_pid
extends_documentation_fragment:
  - ansible.builtin.connection_pipelining
"""

from ansible_collections.community.docker.plugins.connection.nsenter import Connection as NsenterConnection


class Connection(NsenterConnection):
    transport = "nsenter_pipelined"
    has_pipelining = True
