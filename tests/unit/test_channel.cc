// The jail <-> supervisor channel (channel.hpp): both socketpairs of one
// launch, in one process, without a jail.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "mcpjail/channel.hpp"

using namespace mcpjail;

namespace {

bool cloexec(int fd) {
  const int fl = ::fcntl(fd, F_GETFD);
  return fl >= 0 && (fl & FD_CLOEXEC);
}

// The inode of an fd, to tell that a received descriptor is the one sent.
ino_t inode(int fd) {
  struct stat st {};
  REQUIRE(::fstat(fd, &st) == 0);
  return st.st_ino;
}

}  // namespace

TEST_CASE("channel: a report crosses with its descriptor, close-on-exec") {
  channel::Ends ch = channel::open();
  int p[2];
  REQUIRE(::pipe(p) == 0);
  UniqueFd r(p[0]), w(p[1]);
  channel::send_report(ch.report_jail.get(), channel::ReportKind::NetSocket, 3, "network", "", w.get());
  channel::send_report(ch.report_jail.get(), channel::ReportKind::Skipped, 0, "landlock", "not supported here");

  channel::Report rep;
  UniqueFd fd;
  REQUIRE(channel::read_report(ch.report_supervisor.get(), &rep, &fd) == channel::Read::Report);
  CHECK(rep.kind == channel::ReportKind::NetSocket);
  CHECK(rep.code == 3);
  CHECK(std::string(rep.layer) == "network");
  CHECK(std::string(rep.text).empty());
  REQUIRE(fd);
  CHECK(fd.get() != w.get());
  CHECK(inode(fd.get()) == inode(w.get()));
  CHECK(cloexec(fd.get()));

  REQUIRE(channel::read_report(ch.report_supervisor.get(), &rep, &fd) == channel::Read::Report);
  CHECK(rep.kind == channel::ReportKind::Skipped);
  CHECK(std::string(rep.layer) == "landlock");
  CHECK(std::string(rep.text) == "not supported here");
  CHECK_FALSE(fd);  // nothing came attached

  CHECK(channel::read_report(ch.report_supervisor.get(), &rep, &fd) == channel::Read::Empty);
  ch.report_jail.reset();
  CHECK(channel::read_report(ch.report_supervisor.get(), &rep, &fd) == channel::Read::End);
}

TEST_CASE("channel: layer and text are cut to fit and always terminated") {
  channel::Ends ch = channel::open();
  const std::string layer(100, 'l'), text(5000, 't');
  channel::send_report(ch.report_jail.get(), channel::ReportKind::Error, 125, layer, text);
  channel::Report rep;
  UniqueFd fd;
  REQUIRE(channel::read_report(ch.report_supervisor.get(), &rep, &fd) == channel::Read::Report);
  CHECK(rep.kind == channel::ReportKind::Error);
  CHECK(rep.code == 125);
  CHECK(std::string(rep.layer) == layer.substr(0, sizeof rep.layer - 1));
  CHECK(std::string(rep.text) == text.substr(0, sizeof rep.text - 1));
}

TEST_CASE("channel: a message that is not a report is dropped with its descriptor") {
  channel::Ends ch = channel::open();
  int p[2];
  REQUIRE(::pipe(p) == 0);
  UniqueFd r(p[0]), w(p[1]);
  char junk[16] = "not a report";
  iovec iov{junk, sizeof junk};
  REQUIRE(channel::send_message(ch.report_jail.get(), &iov, 1, w.get()) == static_cast<ssize_t>(sizeof junk));
  w.reset();
  channel::Report rep;
  UniqueFd fd;
  CHECK(channel::read_report(ch.report_supervisor.get(), &rep, &fd) == channel::Read::Malformed);
  CHECK_FALSE(fd);
  // The write end is closed everywhere: the pipe reads end-of-file.
  char c;
  CHECK(::read(r.get(), &c, 1) == 0);
}

TEST_CASE("channel: a single message, whole or marked truncated") {
  channel::Ends ch = channel::open();
  const char msg[] = "0123456789";
  iovec iov[2] = {{const_cast<char*>(msg), 4}, {const_cast<char*>(msg) + 4, 6}};
  REQUIRE(channel::send_message(ch.report_supervisor.get(), iov, 2) == 10);
  char buf[32] = {};
  bool truncated = true;
  CHECK(channel::receive_message(ch.report_jail.get(), buf, sizeof buf, &truncated) == 10);
  CHECK_FALSE(truncated);
  CHECK(std::string(buf, 10) == "0123456789");

  REQUIRE(channel::send_message(ch.report_supervisor.get(), iov, 2) == 10);
  CHECK(channel::receive_message(ch.report_jail.get(), buf, 5, &truncated) == 5);
  CHECK(truncated);

  ch.report_supervisor.reset();
  CHECK(channel::receive_message(ch.report_jail.get(), buf, sizeof buf, &truncated) == 0);
}

TEST_CASE("channel: go bytes, and either end gone") {
  channel::Ends ch = channel::open();
  CHECK(cloexec(ch.go_jail.get()));
  CHECK(cloexec(ch.report_jail.get()));
  CHECK(channel::send_go(ch.go_supervisor.get()));
  CHECK(channel::send_go(ch.go_supervisor.get()));
  CHECK(channel::wait_go(ch.go_jail.get()));
  CHECK(channel::wait_go(ch.go_jail.get()));
  ch.go_supervisor.reset();
  CHECK_FALSE(channel::wait_go(ch.go_jail.get()));  // the supervisor is gone

  channel::Ends other = channel::open();
  other.go_jail.reset();
  CHECK_FALSE(channel::send_go(other.go_supervisor.get()));  // the jail has ended: EPIPE, no SIGPIPE
}
