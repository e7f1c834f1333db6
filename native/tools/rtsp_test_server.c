/*
 * A small RTSP server for tests (gst-rtsp-server's test-launch, which no Debian package ships).
 *   vigil-rtsp-test-server PORT MOUNT 'LAUNCH' [USER PASSWORD]
 * Serves LAUNCH (which must contain an element named pay0) on rtsp://127.0.0.1:PORT/MOUNT, shared between
 * clients. With USER and PASSWORD, clients must authenticate (Basic). Prints "ready" once listening.
 */
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char *argv[]) {
  gst_init(&argc, &argv);
  if (argc != 4 && argc != 6) {
    fprintf(stderr, "usage: %s PORT MOUNT LAUNCH [USER PASSWORD]\n", argv[0]);
    return 2;
  }
  GMainLoop *loop = g_main_loop_new(NULL, FALSE);
  GstRTSPServer *server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, "127.0.0.1");
  gst_rtsp_server_set_service(server, argv[1]);
  GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, argv[3]);
  gst_rtsp_media_factory_set_shared(factory, TRUE);
  if (argc == 6) {
    GstRTSPAuth *auth = gst_rtsp_auth_new();
    GstRTSPToken *token = gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "user", NULL);
    gchar *basic = gst_rtsp_auth_make_basic(argv[4], argv[5]);
    gst_rtsp_auth_add_basic(auth, basic, token);
    g_free(basic);
    gst_rtsp_token_unref(token);
    gst_rtsp_server_set_auth(server, auth);
    g_object_unref(auth);
    GstRTSPPermissions *perms = gst_rtsp_permissions_new();
    gst_rtsp_permissions_add_role(perms, "user", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
                                  GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, NULL);
    gst_rtsp_media_factory_set_permissions(factory, perms);
    gst_rtsp_permissions_unref(perms);
  }
  char path[256];
  snprintf(path, sizeof path, "/%s", argv[2]);
  gst_rtsp_mount_points_add_factory(mounts, path, factory);
  g_object_unref(mounts);
  if (gst_rtsp_server_attach(server, NULL) == 0) {
    fprintf(stderr, "failed to listen on 127.0.0.1:%s\n", argv[1]);
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  g_main_loop_run(loop);
  return 0;
}
