/** Facts about the machine the agent runs on, used for `${host.*}` and `${ec2.*}` variables. */
export interface HostFacts {
  hostname: string;
  fqdn: string;
  /** Primary IPv4 address (the source address of the default route), if any. */
  ipv4?: string;
  /** Primary global IPv6 address, if any. */
  ipv6?: string;
}

/** EC2 instance metadata (IMDSv2) keys usable as `${ec2.<key>}`. */
export type Ec2Key = 'local-ipv4' | 'local-hostname' | 'public-ipv4' | 'instance-id';
export type Ec2Facts = Partial<Record<Ec2Key, string>>;
