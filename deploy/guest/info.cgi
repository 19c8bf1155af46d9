#!/bin/sh
# GET /cgi-bin/info on the guest probe: plain-text facts for end-to-end tests.
printf 'Content-Type: text/plain\r\n\r\n'
echo "hostname $(hostname)"
echo "uuid $(cat /run/nubo/uuid 2>/dev/null)"
echo "name $(cat /run/nubo/name 2>/dev/null)"
[ -f /run/nubo/ready ] && echo "ready yes" || echo "ready no"
echo "user_data_rc $(cat /run/nubo/user_data.rc 2>/dev/null)"
echo "uptime $(cut -d' ' -f1 /proc/uptime)"
for f in /run/nubo/net/*; do
	[ -f "$f" ] && echo "lease $(cat "$f")"
done
ip -4 -o addr show | awk '{print "addr", $2, $4}'
ip route show | sed 's/^/route /'
awk 'NR > 2 && $4 !~ /^(ram|loop)/ {print "disk", $4, $3}' /proc/partitions
[ -s /root/.ssh/authorized_keys ] &&
	echo "authorized_keys $(wc -l </root/.ssh/authorized_keys)"
exit 0
