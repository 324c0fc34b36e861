#!/usr/bin/python3
"""A fake org.freedesktop.login1 for cwtimed's tests, on a private bus.

It serves just what src/daemon/logind.c uses, with the shapes logind
documents (org.freedesktop.login1(5)):

  /org/freedesktop/login1             Manager: GetUser(u) -> o,
      Inhibit(ssss) -> h, signals PrepareForSleep(b), PrepareForShutdown(b),
      property InhibitDelayMaxUSec (t)
  /org/freedesktop/login1/user/_UID   User: Display (so), State (s)
  /org/freedesktop/login1/session/ID  Session: LockedHint (b), IdleHint (b),
      IdleSinceHint (t), State (s)

with org.freedesktop.DBus.Properties (Get, GetAll, PropertiesChanged).

Every inhibitor fd handed out is the write end of a pipe; the fake keeps
the read end and notes, on EOF, when the client closed it (CLOCK_MONOTONIC
and CLOCK_REALTIME in ns, so a test can compare with its own stamps).

Control channel: one command per line on stdin, exactly one reply line on
stdout for each (the first line it prints is "ready"):

  sleep 1|0               emit PrepareForSleep                    -> ok
  shutdown 1|0            emit PrepareForShutdown                 -> ok
  lock 1|0                set the session's LockedHint            -> ok
  idle 1|0 [SINCE_US]     set IdleHint and IdleSinceHint (default:
                          now, CLOCK_REALTIME microseconds)       -> ok
  user-state STATE [silent]  set User.State (silent: no signal,
                          as real logind does)                    -> ok
  display ID|-            point User.Display at session ID (made on
                          demand) or at none, and signal it       -> ok
  inhibitors              -> one JSON array: id, what, who, why, mode,
                          taken_mono_ns, taken_real_ns, closed_mono_ns,
                          closed_real_ns (null while open)
  wait-taken N MS         -> "taken N" once N locks were handed out, or
                          "timeout K" after MS milliseconds
  wait-closed N MS        -> "closed N" / "timeout K" likewise for closes
  getall-count            -> "getall N": how often the current session's
                          properties were read with GetAll (a daemon
                          that reads them again after a restart follows
                          the session from then on)
  freeze MS               -> ok, then the fake stops answering anything
                          for MS milliseconds (a hung logind)
  quit                    -> ok, then exit

Options: --address ADDR (required), --uid UID (default: ours),
--delay-max-us N (InhibitDelayMaxUSec, default 5000000), --no-user
(GetUser fails with NoSuchUser), --no-display (User.Display is ("", "/")).
Uses Debian's python3-dbus and python3-gi (GLib main loop).
"""

import argparse
import json
import os
import sys
import time

import dbus
import dbus.exceptions
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

SERVICE = "org.freedesktop.login1"
ROOT = "/org/freedesktop/login1"
MANAGER = "org.freedesktop.login1.Manager"
USER = "org.freedesktop.login1.User"
SESSION = "org.freedesktop.login1.Session"
PROPS = "org.freedesktop.DBus.Properties"


class PropsObject(dbus.service.Object):
    """An object with one interface of properties."""

    def __init__(self, conn, path, iface, props):
        super().__init__(conn, path)
        self.iface = iface
        self.props = props

    @dbus.service.method(PROPS, in_signature="ss", out_signature="v")
    def Get(self, iface, name):
        if iface != self.iface or name not in self.props:
            raise dbus.exceptions.DBusException(
                "no property %s.%s" % (iface, name),
                name="org.freedesktop.DBus.Error.UnknownProperty")
        return self.props[name]

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        self.getall_calls = getattr(self, "getall_calls", 0) + 1
        if iface != self.iface:
            return dbus.Dictionary({}, signature="sv")
        return dbus.Dictionary(self.props, signature="sv")

    @dbus.service.signal(PROPS, signature="sa{sv}as")
    def PropertiesChanged(self, iface, changed, invalidated):
        pass

    def change(self, values, silent=False):
        self.props.update(values)
        if not silent:
            self.PropertiesChanged(self.iface,
                                   dbus.Dictionary(values, signature="sv"),
                                   dbus.Array([], signature="s"))


class Fake:
    def __init__(self, args):
        self.args = args
        self.conn = dbus.bus.BusConnection(args.address)
        self.name = dbus.service.BusName(SERVICE, self.conn)
        self.inhibitors = []
        self.waiters = []
        self.sessions = {}
        fake = self

        class Manager(PropsObject):
            @dbus.service.method(MANAGER, in_signature="u",
                                 out_signature="o")
            def GetUser(self, uid):
                if args.no_user or uid != args.uid:
                    raise dbus.exceptions.DBusException(
                        "User ID %d is not logged in or lingering" % uid,
                        name="org.freedesktop.login1.NoSuchUser")
                return dbus.ObjectPath(fake.user_path)

            @dbus.service.method(MANAGER, in_signature="ssss",
                                 out_signature="h")
            def Inhibit(self, what, who, why, mode):
                return fake.inhibit(what, who, why, mode)

            @dbus.service.signal(MANAGER, signature="b")
            def PrepareForSleep(self, start):
                pass

            @dbus.service.signal(MANAGER, signature="b")
            def PrepareForShutdown(self, start):
                pass

        self.manager = Manager(self.conn, ROOT, MANAGER, {
            "InhibitDelayMaxUSec": dbus.UInt64(args.delay_max_us),
        })
        self.user_path = "%s/user/_%d" % (ROOT, args.uid)
        display = dbus.Struct(("", dbus.ObjectPath("/")), signature="so")
        if not args.no_display:
            display = self.display_for("c1")
        self.user = PropsObject(self.conn, self.user_path, USER, {
            "Display": display,
            "State": dbus.String("active"),
        })

    def display_for(self, sid):
        if sid not in self.sessions:
            path = "%s/session/%s" % (ROOT, sid)
            self.sessions[sid] = PropsObject(self.conn, path, SESSION, {
                "LockedHint": dbus.Boolean(False),
                "IdleHint": dbus.Boolean(False),
                "IdleSinceHint": dbus.UInt64(0),
                "State": dbus.String("active"),
            })
        return dbus.Struct((sid, dbus.ObjectPath(
            "%s/session/%s" % (ROOT, sid))), signature="so")

    def current_session(self):
        sid = str(self.user.props["Display"][0])
        return self.sessions.get(sid)

    def inhibit(self, what, who, why, mode):
        r, w = os.pipe2(os.O_CLOEXEC)
        rec = {
            "id": len(self.inhibitors) + 1, "what": str(what),
            "who": str(who), "why": str(why), "mode": str(mode),
            "taken_mono_ns": time.monotonic_ns(),
            "taken_real_ns": time.time_ns(),
            "closed_mono_ns": None, "closed_real_ns": None,
        }
        self.inhibitors.append(rec)

        def on_eof(fd, cond):
            rec["closed_mono_ns"] = time.monotonic_ns()
            rec["closed_real_ns"] = time.time_ns()
            os.close(fd)
            self.check_waiters()
            return False

        GLib.io_add_watch(r, GLib.PRIORITY_HIGH,
                          GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, on_eof)
        # UnixFd keeps its own duplicate; ours goes at once so that the
        # client's copy is the only write end left.
        fd = dbus.types.UnixFd(w)
        os.close(w)
        GLib.idle_add(self.check_waiters)
        return fd

    def counts(self):
        taken = len(self.inhibitors)
        closed = sum(1 for i in self.inhibitors
                     if i["closed_mono_ns"] is not None)
        return taken, closed

    def check_waiters(self):
        taken, closed = self.counts()
        for wt in list(self.waiters):
            kind, n, source = wt
            have = taken if kind == "taken" else closed
            if have >= n:
                GLib.source_remove(source)
                self.waiters.remove(wt)
                self.reply("%s %d" % (kind, have))
        return False

    def wait(self, kind, n, ms):
        holder = []

        def on_timeout():
            self.waiters.remove(holder[0])
            taken, closed = self.counts()
            self.reply("timeout %d" % (taken if kind == "taken" else closed))
            return False

        source = GLib.timeout_add(ms, on_timeout)
        holder.append((kind, n, source))
        self.waiters.append(holder[0])
        self.check_waiters()

    @staticmethod
    def reply(text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def command(self, line):
        words = line.split()
        if not words:
            self.reply("error empty command")
            return
        cmd, rest = words[0], words[1:]
        try:
            if cmd == "sleep":
                self.manager.PrepareForSleep(dbus.Boolean(rest[0] == "1"))
            elif cmd == "shutdown":
                self.manager.PrepareForShutdown(dbus.Boolean(rest[0] == "1"))
            elif cmd == "lock":
                self.current_session().change(
                    {"LockedHint": dbus.Boolean(rest[0] == "1")})
            elif cmd == "idle":
                since = int(rest[1]) if len(rest) > 1 else time.time_ns() // 1000
                idle = rest[0] == "1"
                self.current_session().change({
                    "IdleHint": dbus.Boolean(idle),
                    "IdleSinceHint": dbus.UInt64(since if idle else 0),
                })
            elif cmd == "user-state":
                self.user.change({"State": dbus.String(rest[0])},
                                 silent=len(rest) > 1 and rest[1] == "silent")
            elif cmd == "display":
                if rest[0] == "-":
                    d = dbus.Struct(("", dbus.ObjectPath("/")),
                                    signature="so")
                else:
                    d = self.display_for(rest[0])
                self.user.change({"Display": d})
            elif cmd == "inhibitors":
                self.reply(json.dumps(self.inhibitors))
                return
            elif cmd in ("wait-taken", "wait-closed"):
                self.wait(cmd[5:], int(rest[0]), int(rest[1]))
                return
            elif cmd == "getall-count":
                self.reply("getall %d" % getattr(self.current_session(),
                                                 "getall_calls", 0))
                return
            elif cmd == "freeze":
                ms = int(rest[0])
                self.reply("ok")
                # Deliberately blocking: this simulates a logind that hangs,
                # it is not a wait for readiness.
                time.sleep(ms / 1000.0)
                return
            elif cmd == "quit":
                self.reply("ok")
                self.loop.quit()
                return
            else:
                self.reply("error unknown command %s" % cmd)
                return
        except (IndexError, ValueError, AttributeError) as e:
            self.reply("error %s: %s" % (cmd, e))
            return
        self.reply("ok")

    def run(self):
        self.loop = GLib.MainLoop()
        buf = bytearray()

        def on_stdin(fd, cond):
            data = os.read(fd, 4096)
            if not data:
                self.loop.quit()  # the test went away
                return False
            buf.extend(data)
            while b"\n" in buf:
                line, _, rest = bytes(buf).partition(b"\n")
                buf[:] = rest
                self.command(line.decode())
            return True

        GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT,
                          GLib.IO_IN | GLib.IO_HUP, on_stdin)
        self.reply("ready")
        self.loop.run()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--address", required=True)
    ap.add_argument("--uid", type=int, default=os.getuid())
    ap.add_argument("--delay-max-us", type=int, default=5000000)
    ap.add_argument("--no-user", action="store_true")
    ap.add_argument("--no-display", action="store_true")
    args = ap.parse_args()
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    Fake(args).run()


if __name__ == "__main__":
    main()
