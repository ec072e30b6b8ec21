"""A Cinder volume driver that keeps volumes and snapshots as sparse files.

Built on cinder.tests.fake_driver.FakeLoggingVolumeDriver (shipped in the
cinder wheel).  ``initialize_connection`` hands out the file as a ``local``
device so that nova attach/detach and the posix backup driver work without
iSCSI, LVM or root helpers.
"""
import os
import shutil

from cinder.tests import fake_driver
from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

file_opts = [
    cfg.StrOpt('testcloud_volumes_dir',
               default='/var/tmp/govcloud-testcloud/data/cinder-volumes',
               help='Directory holding the sparse volume/snapshot files.'),
]
cfg.CONF.register_opts(file_opts, group='backend_defaults')

GiB = 1024 ** 3


class FileBackedVolumeDriver(fake_driver.FakeLoggingVolumeDriver):
    VERSION = '1.0.0'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(file_opts)
        self.backend_name = (
            self.configuration.safe_get('volume_backend_name') or 'testcloud')

    # -- paths -------------------------------------------------------------
    def _dir(self):
        d = self.configuration.testcloud_volumes_dir
        os.makedirs(d, exist_ok=True)
        return d

    def _vol_path(self, volume):
        return os.path.join(self._dir(), 'volume-%s' % volume['id'])

    def _snap_path(self, snapshot):
        return os.path.join(self._dir(), 'snapshot-%s' % snapshot['id'])

    def local_path(self, volume, vg=None):
        return self._vol_path(volume)

    @staticmethod
    def _truncate(path, size_gb):
        with open(path, 'ab') as f:
            f.truncate(int(size_gb) * GiB)

    @staticmethod
    def _unlink(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    # -- volumes -----------------------------------------------------------
    def check_for_setup_error(self):
        self._dir()

    def create_volume(self, volume):
        self._truncate(self._vol_path(volume), volume['size'])

    def delete_volume(self, volume):
        self._unlink(self._vol_path(volume))

    def extend_volume(self, volume, new_size):
        self._truncate(self._vol_path(volume), new_size)

    def create_cloned_volume(self, volume, src_vref):
        shutil.copyfile(self._vol_path(src_vref), self._vol_path(volume))
        self._truncate(self._vol_path(volume), volume['size'])

    def create_snapshot(self, snapshot):
        shutil.copyfile(self._vol_path({'id': snapshot['volume_id']}),
                        self._snap_path(snapshot))

    def delete_snapshot(self, snapshot):
        self._unlink(self._snap_path(snapshot))

    def create_volume_from_snapshot(self, volume, snapshot):
        shutil.copyfile(self._snap_path(snapshot), self._vol_path(volume))
        self._truncate(self._vol_path(volume), volume['size'])

    def revert_to_snapshot(self, context, volume, snapshot):
        shutil.copyfile(self._snap_path(snapshot), self._vol_path(volume))

    # -- images (no qemu-img: raw bytes only) ------------------------------
    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        path = self._vol_path(volume)
        with open(path, 'r+b') as f:
            image_service.download(context, image_id, f)
        self._truncate(path, volume['size'])

    def copy_volume_to_image(self, context, volume, image_service,
                             image_meta):
        with open(self._vol_path(volume), 'rb') as f:
            image_service.update(context, image_meta['id'], {}, f)

    # -- connections -------------------------------------------------------
    def validate_connector(self, connector):
        pass

    def initialize_connection(self, volume, connector):
        return {'driver_volume_type': 'local',
                'data': {'device_path': self._vol_path(volume),
                         'access_mode': 'rw'}}

    def initialize_connection_snapshot(self, snapshot, connector):
        return {'driver_volume_type': 'local',
                'data': {'device_path': self._snap_path(snapshot),
                         'access_mode': 'ro'}}

    def terminate_connection(self, volume, connector, **kwargs):
        pass

    def _update_volume_stats(self):
        super()._update_volume_stats()
        for pool in self._stats['pools']:
            pool['reserved_percentage'] = 0
