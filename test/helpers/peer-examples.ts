// The peers' documented examples, translated into our config, that several tests check against.

/** spookd's README mapping, as it sits under deviceplugin.virtual (spookd's own file holds exactly this). */
export const SPOOKD_README_MAPPING = `deviceMapping:
  - hosts: [lab1-host1, lab1-host2]
    devices:
      - resourceName: skao.int/oscilloscope
        instanceID: "0001"
        env: { IP: 10.0.10.215 }
      - resourceName: skao.int/oscilloscope
        instanceID: "0002"
        env: { IP: 10.0.10.218 }
      - resourceName: skao.int/signal-generator
        instanceID: "0001"
        env: { IP: 10.10.10.80 }
  - hosts: [lab2-host1]
    devices:
      - resourceName: skao.int/oscilloscope
        instanceID: "0003"
        env: { IP: 10.0.10.85 }
      - resourceName: skao.int/signal-generator
        instanceID: "0002"
        env: { IP: 10.0.10.80 }
`;

/**
 * smarter-device-manager's README shows a Raspberry Pi node's capacity (gpiochip0-2, gpiomem,
 * i2c-1, snd, vchiq, vcsm and video4 at 10; vcs, vcsm-cma and video10-12 at 0) but not the list
 * that produced it. This is a list in smarter's schema that gives exactly that node on such a
 * /dev, as it sits under deviceplugin.dev; `^vcs$` with no nummaxdevices is one way to 0 shares.
 */
export const RASPBERRY_PI_README_LIST = `    devices:
      - devicematch: ^gpiochip[0-9]*$
        nummaxdevices: 10
      - devicematch: ^gpiomem$
        nummaxdevices: 10
      - devicematch: ^i2c-[0-9]*$
        nummaxdevices: 10
      - devicematch: ^snd$
        nummaxdevices: 10
      - devicematch: ^vchiq$
        nummaxdevices: 10
      - devicematch: ^vcs$
      - devicematch: ^vcsm$
        nummaxdevices: 10
      - devicematch: ^vcsm-cma$
        nummaxdevices: 0
      - devicematch: ^video[0-9]$
        nummaxdevices: 10
      - devicematch: ^video1[0-9]$
        nummaxdevices: 0
`;

// smarter's README node: every resource with its capacity (0 ones registered with no devices).
export const PI_CAPACITY: Record<string, number> = {
  'smarter-devices/gpiochip0': 10,
  'smarter-devices/gpiochip1': 10,
  'smarter-devices/gpiochip2': 10,
  'smarter-devices/gpiomem': 10,
  'smarter-devices/i2c-1': 10,
  'smarter-devices/snd': 10,
  'smarter-devices/vchiq': 10,
  'smarter-devices/vcs': 0,
  'smarter-devices/vcsm': 10,
  'smarter-devices/vcsm-cma': 0,
  'smarter-devices/video10': 0,
  'smarter-devices/video11': 0,
  'smarter-devices/video12': 0,
  'smarter-devices/video4': 10,
};

/**
 * The reference's spookd example, written out from it (not from our code): widget 0001 of
 * example.com/widget with env IP=192.168.0.200, PORT=12345 gives a container exactly this.
 */
export const WIDGET_0001_ENV: Readonly<Record<string, string>> = {
  EXAMPLECOM_WIDGET_DEV0_ID: '0001',
  EXAMPLECOM_WIDGET_DEV0_IP: '192.168.0.200',
  EXAMPLECOM_WIDGET_DEV0_PORT: '12345',
  EXAMPLECOM_WIDGET_DEV0_TYPE: 'example.com/widget',
  EXAMPLECOM_WIDGET_ID: '0001',
  EXAMPLECOM_WIDGET_IP: '192.168.0.200',
  EXAMPLECOM_WIDGET_PORT: '12345',
  EXAMPLECOM_WIDGET_TYPE: 'example.com/widget',
  EXAMPLECOM_WIDGET_NUM_DEVICES: '1',
};

/**
 * sriov-network-device-plugin's README config, the entries this plugin serves: the RDMA, vDPA
 * and auxiliary-device entries (isRdma, vdpaType, deviceType auxNetDevice) are left out, since
 * those are refused as not supported. As JSON, the form of sriov's own /etc/pcidp/config.json.
 */
export const SRIOV_README_CONFIG = JSON.stringify(
  {
    resourceList: [
      { resourceName: 'intel_sriov_netdevice', selectors: [{ vendors: ['8086'], devices: ['154c', '10ed', '1889'], drivers: ['i40evf', 'ixgbevf', 'iavf'] }] },
      {
        resourceName: 'intel_sriov_dpdk',
        resourcePrefix: 'intel.com',
        selectors: [{ vendors: ['8086'], devices: ['154c', '10ed', '1889'], drivers: ['vfio-pci'], pfNames: ['enp0s0f0', 'enp2s2f1'], needVhostNet: true }],
      },
      { resourceName: 'intel_fpga', deviceType: 'accelerator', selectors: [{ vendors: ['8086'], devices: ['0d90'] }] },
      {
        resourceName: 'intel_sriov_netdevice_additional_env',
        selectors: [{ vendors: ['8086'], devices: ['154c', '10ed', '1889'], drivers: ['i40evf', 'ixgbevf', 'iavf'] }],
        additionalInfo: { '*': { token: '3e49019f-412f-4f02-824e-4cd195944205' } },
      },
      { resourceName: 'brcm_sriov_bnxt', resourcePrefix: 'broadcom.com', selectors: [{ vendors: ['14e4'], devices: ['1750'], drivers: ['bnxt_en'] }] },
      { resourceName: 'old_selectors_syntax_example', selectors: { vendors: ['8086'], devices: ['154c', '10ed', '1889'], drivers: ['i40evf', 'ixgbevf', 'iavf'] } },
    ],
  },
  null,
  2,
);
