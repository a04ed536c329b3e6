/* Linked whole-archive with one plane library and slb_common only (see CMakeLists.txt):
 * the link fails if that plane calls into the other plane or into main. Nothing to run. */
int main(void)
{
	return 0;
}
