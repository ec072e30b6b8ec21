"""An ML2 mechanism driver that binds every port without any agent.

There is no dataplane in the test cloud: nova runs the fake virt driver, so a
port only has to look bound (vif_type ovs, status ACTIVE) for nova to be happy.
Registered as ``testcloud_agentless`` in the ``neutron.ml2.mechanism_drivers``
entry-point group (see pyproject.toml).
"""
from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class AgentlessMechanismDriver(api.MechanismDriver):

    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True,
                 portbindings.OVS_HYBRID_PLUG: False,
                 portbindings.VIF_DETAILS_CONNECTIVITY:
                     portbindings.CONNECTIVITY_L2},
                status=constants.PORT_STATUS_ACTIVE)
            return
