// --mac-address / Docker's Config.MacAddress (and an endpoint's MacAddress):
// the Ethernet address of the container's interface on the network it is
// created on. Docker takes what Go's net.ParseMAC takes for 6 bytes; the
// kernel then refuses a multicast or all-zero address on the veth (EINVAL,
// EADDRNOTAVAIL), so those are refused here, before anything is made.

/** The address in lower case "aa:bb:cc:dd:ee:ff", or why it is not one. */
export function parseMacAddress(v: string): { mac: string } | { error: string } {
  const m = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(v);
  if (!m) return { error: 'expected six hexadecimal bytes separated by colons, as in 02:42:ac:11:00:02' };
  const bytes = [m[1], m[3], m[4], m[5], m[6], m[7]].map((b) => parseInt(b!, 16));
  if (bytes[0]! & 1) return { error: 'a multicast address (the first byte is odd) cannot be an interface\'s address; use a unicast one such as 02:42:ac:11:00:02' };
  if (bytes.every((b) => b === 0)) return { error: 'the all-zero address cannot be an interface\'s address' };
  return { mac: bytes.map((b) => b.toString(16).padStart(2, '0')).join(':') };
}
